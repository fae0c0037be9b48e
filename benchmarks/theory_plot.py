"""Draw docs/img/theory.png: a trained discriminator against D*, and V against 2 JS - 2 log 2.

    python benchmarks/theory_plot.py        (needs matplotlib)
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from ganzoo.evaluation.theory import check_optimal_discriminator, normal_pdf

OUT = Path(__file__).resolve().parent.parent / "docs" / "img" / "theory.png"


def main() -> None:
    torch.set_num_threads(1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    check = check_optimal_discriminator(2.0, 0.7)
    x = check.grid
    keep = (x > -4) & (x < 5)
    left.plot(x[keep], normal_pdf(x, 0, 1)[keep], color="tab:blue", alpha=0.5, label="p_data = N(0, 1)")
    left.plot(x[keep], normal_pdf(x, 2, 0.7)[keep], color="tab:orange", alpha=0.5, label="p_g = N(2, 0.7²)")
    left.plot(x[keep], check.d_star[keep], "k-", lw=3, alpha=0.3, label="D*(x) = p_data / (p_data + p_g)")
    left.plot(x[keep], check.d[keep], "k--", lw=1, label=f"trained D (max error {check.max_abs_error:.4f})")
    left.set_xlabel("x")
    left.legend(fontsize=8)
    left.set_title("The optimal discriminator")

    means = [3.0, 2.0, 1.5, 1.0, 0.5, 0.25, 0.0]
    checks = [check_optimal_discriminator(m, 1.0) for m in means]
    right.plot(means, [c.theory_value for c in checks], "k-", lw=3, alpha=0.3, label="2 JS(p_data‖p_g) - 2 log 2")
    right.plot(means, [c.value for c in checks], "ko", ms=4, label="V(D, G) with the trained D")
    right.axhline(-2 * math.log(2), color="tab:red", lw=1, ls=":", label="-2 log 2 (p_g = p_data)")
    right.set_xlabel("mean of p_g = N(μ, 1); p_data = N(0, 1)")
    right.invert_xaxis()
    right.legend(fontsize=8)
    right.set_title("The value of the game")
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=110)
    for m, c in zip(means, checks, strict=True):
        print(f"mu={m:<5} V={c.value:.5f} 2JS-2log2={c.theory_value:.5f} |diff|={c.value_error:.2e} "
              f"max|D-D*|={c.max_abs_error:.4f}")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
