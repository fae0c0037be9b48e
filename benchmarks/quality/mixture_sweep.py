"""A stand-alone 2-D GAN loop for quick recipe searches on ring8 / grid25 (not ganzoo's trainer).

It trains the same MLPs as ganzoo's ``gan`` (ReLU G with BatchNorm, LeakyReLU(0.2) D) with
the options a search needs in one file: latent size, widths, a categorical latent code,
maxout D, packing, minibatch-std, R1, the hinge / least-squares / WGAN-GP losses, a linear
learning-rate decay and an EMA generator. Every ``--evals`` it prints the VEEGAN/PacGAN
scores of G and of its EMA on 2,500 samples: modes covered, high-quality share, reverse KL,
the share of samples farther than 0.5 from every mode ("far", i.e. between modes) and the
mean distance of the high-quality samples. Data is drawn fresh every step.

    python benchmarks/quality/mixture_sweep.py --data grid25 --steps 25000 --r1 3 --zdim 4 --gh 256 --decay 0.3

docs/results.md ("Choosing the recipe") lists the runs made with it. The chosen recipes are
then run through ganzoo itself by ``mixtures.py``.
"""

from __future__ import annotations

import argparse
import copy
import math
import time

import torch
import torch.nn.functional as F
from torch import nn


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="grid25", choices=["ring8", "grid25"])
    p.add_argument("--steps", type=int, default=10000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--zdim", type=int, default=256, help="Gaussian latent dimensions")
    p.add_argument("--cat", type=int, default=0, help="one-hot categorical latent code with this many values")
    p.add_argument("--gh", type=int, default=128, help="G's layer width")
    p.add_argument("--gd", type=int, default=3, help="G's hidden layers")
    p.add_argument("--gbn", type=int, default=1, help="BatchNorm in G (1) or not (0)")
    p.add_argument("--dh", type=int, default=128, help="D's layer width")
    p.add_argument("--dd", type=int, default=3, help="D's hidden layers")
    p.add_argument("--maxout", type=int, default=0, help="maxout pieces in D (0: LeakyReLU)")
    p.add_argument("--pack", type=int, default=1, help="samples per pack in D (PacGAN)")
    p.add_argument("--lrg", type=float, default=1e-3)
    p.add_argument("--lrd", type=float, default=1e-3)
    p.add_argument("--b1", type=float, default=0.5, help="Adam beta1")
    p.add_argument("--bs", type=int, default=256, help="batch size")
    p.add_argument("--ema", type=float, default=0.999, help="EMA decay of G (0: none)")
    p.add_argument("--decay", type=float, default=0.0, help="share of the steps with linear lr decay to 0")
    p.add_argument("--k", type=int, default=1, help="D steps per G step")
    p.add_argument("--evals", type=int, default=4, help="evaluations over the run")
    p.add_argument("--loss", default="ns", choices=["ns", "hinge", "ls", "wgan"])
    p.add_argument("--mbstd", type=int, default=0, help="minibatch-std feature before D's last layer")
    p.add_argument("--r1", type=float, default=0.0, help="R1 penalty weight gamma")
    p.add_argument("--sn", type=int, default=0, help="spectral normalization in D")
    return p.parse_args()


class Maxout(nn.Module):
    def __init__(self, i: int, o: int, k: int) -> None:
        super().__init__()
        self.k = k
        self.lin = nn.Linear(i, o * k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x).view(x.shape[0], -1, self.k).amax(-1)


class Disc(nn.Module):
    def __init__(self, body: list[nn.Module], width: int, mbstd: bool, sn: bool) -> None:
        super().__init__()
        self.body = nn.Sequential(*body)
        self.mbstd = mbstd
        self.head: nn.Module = nn.Linear(width + (1 if mbstd else 0), 1)
        if sn:
            self.head = nn.utils.parametrizations.spectral_norm(self.head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x)
        if self.mbstd:
            h = torch.cat([h, h.std(0).mean().expand(h.shape[0], 1)], 1)
        return self.head(h)


def main() -> None:
    a = parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    if a.data == "ring8":
        angles = 2 * math.pi * torch.arange(8) / 8
        centers, std = torch.stack([angles.cos(), angles.sin()], 1), 0.01
    else:
        ticks = torch.tensor([-4.0, -2, 0, 2, 4])
        centers, std = torch.cartesian_prod(ticks, ticks), 0.05

    def real(n: int) -> torch.Tensor:
        return centers[torch.randint(len(centers), (n,))] + std * torch.randn(n, 2)

    layers: list[nn.Module] = []
    width = a.zdim + a.cat
    for _ in range(a.gd):
        layers += [nn.Linear(width, a.gh)] + ([nn.BatchNorm1d(a.gh)] if a.gbn else []) + [nn.ReLU()]
        width = a.gh
    G = nn.Sequential(*layers, nn.Linear(width, 2))
    body: list[nn.Module] = []
    width = 2 * a.pack
    for _ in range(a.dd):
        body += [Maxout(width, a.dh, a.maxout)] if a.maxout else [nn.Linear(width, a.dh), nn.LeakyReLU(0.2)]
        width = a.dh
    if a.sn:
        body = [nn.utils.parametrizations.spectral_norm(m) if isinstance(m, nn.Linear) else m for m in body]
    D = Disc(body, width, bool(a.mbstd), bool(a.sn))
    E = copy.deepcopy(G).eval() if a.ema else None
    opt_g = torch.optim.Adam(G.parameters(), a.lrg, betas=(a.b1, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), a.lrd, betas=(a.b1, 0.999))

    def latent(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(n, a.zdim, generator=generator)
        if a.cat:
            z = torch.cat([z, F.one_hot(torch.randint(a.cat, (n,), generator=generator), a.cat).float()], 1)
        return z

    def d(x: torch.Tensor) -> torch.Tensor:
        return D(x.reshape(-1, 2 * a.pack)).squeeze(1)

    def score(net: nn.Module) -> tuple[int, float, float, float, float]:
        net.eval()
        with torch.no_grad():
            x = net(latent(2500, torch.Generator().manual_seed(0)))
        net.train()
        nearest_dist, nearest = torch.cdist(x, centers).min(1)
        hq = nearest_dist <= 3 * std
        counts = torch.bincount(nearest[hq], minlength=len(centers)).float()
        p = counts / counts.sum()
        kl = float((p[p > 0] * (p[p > 0] * len(centers)).log()).sum()) if counts.sum() else float("inf")
        far = float((nearest_dist > 0.5).float().mean())
        return (int((counts >= 20).sum()), float(hq.float().mean()), kl, far,
                float(nearest_dist[hq].mean()) if hq.any() else 0.0)

    start = time.time()
    bs = a.bs
    for step in range(1, a.steps + 1):
        if a.decay:
            factor = min(1.0, (a.steps - step) / (a.decay * a.steps))
            for opt, lr in ((opt_g, a.lrg), (opt_d, a.lrd)):
                for group in opt.param_groups:
                    group["lr"] = lr * factor
        for _ in range(a.k):
            xr = real(bs)
            xf = G(latent(bs)).detach()
            if a.r1:
                xr.requires_grad_(True)
            dr, df = d(xr), d(xf)
            if a.loss == "ns":
                ld = F.softplus(-dr).mean() + F.softplus(df).mean()
            elif a.loss == "hinge":
                ld = F.relu(1 - dr).mean() + F.relu(1 + df).mean()
            elif a.loss == "ls":
                ld = ((dr - 1) ** 2).mean() + (df**2).mean()
            else:  # wgan-gp
                ld = df.mean() - dr.mean()
                e = torch.rand(bs, 1)
                xi = (e * xr.detach() + (1 - e) * xf).requires_grad_(True)
                (grad,) = torch.autograd.grad(d(xi).sum(), xi, create_graph=True)
                ld = ld + 10 * ((grad.norm(dim=1) - 1) ** 2).mean()
            if a.r1:
                (grad,) = torch.autograd.grad(dr.sum(), xr, create_graph=True)
                ld = ld + a.r1 / 2 * grad.pow(2).sum(1).mean()
            opt_d.zero_grad(set_to_none=True)
            ld.backward()
            opt_d.step()
        dg = d(G(latent(bs)))
        if a.loss == "ns":
            lg = F.softplus(-dg).mean()
        elif a.loss == "ls":
            lg = ((dg - 1) ** 2).mean()
        else:
            lg = -dg.mean()
        opt_g.zero_grad(set_to_none=True)
        lg.backward()
        opt_g.step()
        if E is not None:
            with torch.no_grad():
                for pe, pg in zip(E.parameters(), G.parameters(), strict=True):
                    pe.lerp_(pg, 1 - a.ema)
                for be, bg in zip(E.buffers(), G.buffers(), strict=True):
                    be.copy_(bg)
        if step % (a.steps // a.evals) == 0:
            r = score(G)
            line = f"{step} G modes {r[0]} hq {100 * r[1]:.1f} kl {r[2]:.2f} far {100 * r[3]:.1f} | EMA "
            if E is not None:
                m = score(E)
                line += f"modes {m[0]} hq {100 * m[1]:.1f} kl {m[2]:.2f} far {100 * m[3]:.1f} hqdist {m[4]:.3f}"
            print(f"{line} ld {ld.item():.3f} {time.time() - start:.0f}s", flush=True)


if __name__ == "__main__":
    main()
