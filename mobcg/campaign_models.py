"""Models of our own campaign, usable with no project: potentials on day one.

`python -m mobcg predict PARAMS.json --out DIR` in an empty folder writes simulation-ready CG tables:
the structure-preserving potential (what IBI gives for that force field) and the mobility-preserving one
(the potential of the CG model whose D matches this force field's D_AA), and the DPD friction with
which the structure table moves at D_AA (with its LAMMPS fragment), each with its band. They are fitted
on a data release of our own (data/campaign-…) and shipped as `mobcg/reference/campaign_models.json`
(no pickle, nothing fitted at run time); `python -m mobcg.campaign_models --fit data/<release>` refits.

The potentials: principal-component scores of the training potentials as a polynomial in log D̂_AA, the
AA mobility the published-data model (234 sets) predicts for the 19 parameters (models.
MobilityPotentialModel): the file holds the PCA (mean, components on the grid), the coefficients and the
scores' residual spread. Bands: that spread with the row's leverage, mapped onto the grid (the components
are orthonormal, so U's variance at r is Σ_k sd_k² c_k(r)²), rescaled so the 68 % band holds the held-out
potential's RMS error (5-fold CV) as often as it should. The friction: log γ = a + b log D̂_AA
(models.FrictionModel), its intervals from the leave-one-out residuals. Units: r in Å, U in kcal/mol, γ in
kcal fs/(mol Å²).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from . import files
from .forcefield import PARAMETER_NAMES
from .models import FrictionModel, MobilityPotentialModel
from .published import LEVELS, conformal_quantile

MODELS_FILE = Path(__file__).resolve().parent / "reference" / "campaign_models.json"
FORMAT = 3  # 3: the potentials, too, from the predicted D_AA (models.MobilityPotentialModel), not GPs on the 19 parameters
R_MIN, DR = 5.0, 0.02  # Å: the potentials' grid (the datasets' start; 0.02 Å keeps the file small)


class CampaignModelError(RuntimeError):
    pass


class ShippedPotential:
    """A fitted models.MobilityPotentialModel as JSON (its PCA, polynomial and residual spread), with the
    band scale from cross-validation: predict(x) → (U (m, grid), sd (m, grid))."""

    KEYS = ("mean_", "components_", "coef_", "sigma_", "ata_inv_", "degree_")

    def __init__(self, model: MobilityPotentialModel, band_scale: float = 1.0):
        self.model, self.band_scale = model, float(band_scale)

    @classmethod
    def fit(cls, X, U) -> "ShippedPotential":
        return cls(MobilityPotentialModel().fit(X, U))

    def predict(self, x) -> tuple[np.ndarray, np.ndarray]:
        U, sd = self.model.predict(np.atleast_2d(x))
        return U, self.band_scale * sd

    def to_json(self) -> dict:
        return {k.rstrip("_"): np.asarray(getattr(self.model, k)).tolist() for k in self.KEYS} | {
            "band_scale": self.band_scale}

    @classmethod
    def from_json(cls, e: dict) -> "ShippedPotential":
        model = MobilityPotentialModel()
        for k in cls.KEYS:
            setattr(model, k, int(e["degree"]) if k == "degree_" else np.asarray(e[k.rstrip("_")], float))
        return cls(model, e.get("band_scale", 1.0))


def _cv_band(X, U, folds: int = 5) -> tuple[float, float, float]:
    """(RMS error of held-out potentials, kcal/mol; the band scale making the 68 % band hold it; the RMS
    error of the training folds' mean potential on the same held-out rows): 5-fold CV."""
    n = len(U)
    z, err, base = [], [], []
    for k in range(folds):
        te = np.arange(n) % folds == k
        model = ShippedPotential.fit(X[~te], U[~te])
        pred, sd = model.predict(X[te])
        rms = np.sqrt(np.mean((pred - U[te]) ** 2, axis=1))
        err += rms.tolist()
        z += (rms / np.sqrt(np.mean(sd ** 2, axis=1))).tolist()
        base += np.sqrt(np.mean((U[~te].mean(0) - U[te]) ** 2, axis=1)).tolist()
    return (float(np.sqrt(np.mean(np.square(err)))), conformal_quantile(z, LEVELS[0]),
            float(np.sqrt(np.mean(np.square(base)))))


def training_sets(release_dir) -> dict:
    """From a data release's trusted jobs (their own flags): the 19 parameters, IBI's potentials on the
    models' grid, the mobility pairs (aggregate's pairing: D_AA_inf(i) ≈ D_CG_inf(j), similar RDFs) and
    the matched frictions."""
    from . import aggregate, cg, datasets, ibi, tables
    from .forcefield import vector
    release_dir = Path(release_dir)
    rows = []
    for doc_file in sorted((release_dir / "jobs").glob("*/signac_job_document.json")):
        if doc_file.parent.name.startswith("."):  # an export's temporary or old copy
            continue
        doc = json.loads(doc_file.read_text())
        if doc.get("failed") or "alpha" not in doc or aggregate.missing_flags(doc):
            continue
        folder = doc_file.parent
        sp = json.loads((folder / "signac_statepoint.json").read_text())
        final = ibi.read_iteration(folder / cg.IBI_DIR / f"iteration_{int(doc['ibi_final_iteration']):03d}.npz")
        rows.append((sp, doc, final, folder))
    if len(rows) < 5:
        raise CampaignModelError(f"{release_dir}: {len(rows)} trusted job(s); need at least 5 to fit")
    r_cut = min(float(doc["ibi_r_cut"]) for _, doc, _, _ in rows)
    grid = np.round(np.arange(R_MIN, r_cut - DR / 2, DR), 4)
    X = np.array([vector(sp["forcefield"]) for sp, _, _, _ in rows])
    U = np.array([tables.resample(cg.potential_table(f.r, f.U, r_cut), grid).U for _, _, f, _ in rows])
    r_rdf = np.round(np.arange(1.0, 10.0, aggregate.RDF_GRID_DR), 4)
    g_aa = np.array([np.interp(r_rdf, *np.loadtxt(folder / "rdf_aa.txt", ndmin=2).T) for *_, folder in rows])
    g_cg = np.array([np.interp(r_rdf, *np.loadtxt(folder / cg.RDF, ndmin=2).T) for *_, folder in rows])
    d_aa = np.array([cg.infinite_D(doc, "AA")[0] for _, doc, _, _ in rows])
    d_cg = np.array([cg.infinite_D(doc, "CG")[0] for _, doc, _, _ in rows])
    pairs = np.array(datasets.pairing(d_aa, d_cg, g_aa, g_cg, aggregate.PAIRING["tol"], aggregate.PAIRING["r2_min"]),
                     dtype=int).reshape(-1, 2)
    gamma = np.array([cg.matched_gamma(doc) for _, doc, _, _ in rows], float)
    # the friction's reach: the matched jobs' median, as aggregate trains it
    cutoff = (float(np.median([doc["dpd_cutoff"] for (_, doc, _, _), g in zip(rows, gamma) if np.isfinite(g)]))
              if np.isfinite(gamma).any() else None)
    return {"grid": grid, "X": X, "U": U, "pairs": pairs, "gamma": gamma, "dpd_cutoff": cutoff, "r_cut": r_cut,
            "ids": [folder.name for *_, folder in rows], "release": release_dir.name}


def fit(release_dir, path=None) -> dict:
    """Fit the models on a release and write campaign_models.json (with their 5-fold CV scores)."""
    data = training_sets(release_dir)
    X, U, pairs, gamma = data["X"], data["U"], data["pairs"], data["gamma"]
    out = {"format": FORMAT, "release": data["release"], "grid": data["grid"].tolist(), "r_cut": data["r_cut"],
           "parameters": list(PARAMETER_NAMES), "n_trusted": len(X), "n_pairs": int(len(pairs)), "models": {}}
    for name, (Xs, Us) in {"structure": (X, U), "mobility": (X[pairs[:, 0]], U[pairs[:, 1]]) if len(pairs) else (None, None)}.items():
        if Xs is None or len(Xs) < 5:
            out["models"][name] = {"note": f"{0 if Xs is None else len(Xs)} training rows: not fitted"}
            continue
        rms, scale, base = _cv_band(Xs, Us)
        model = ShippedPotential.fit(Xs, Us)
        model.band_scale = scale
        out["models"][name] = model.to_json() | {"cv_rmse": rms, "rmse_mean_baseline": base, "n": len(Xs)}
    known = np.isfinite(gamma)
    if known.sum() >= 5:  # log γ = a + b log D̂_AA (models.FrictionModel), its intervals from the LOO residuals
        Xg, yg = X[known], gamma[known]
        residuals = FrictionModel.loo_residuals(Xg, yg)
        mean_loo = np.log(yg) - np.array([np.mean(np.log(np.delete(yg, i))) for i in range(len(yg))])
        out["models"]["dpd_gamma"] = {
            "model": "log gamma = a + b log D_AA, D_AA from the published-data model (mobcg.models.FrictionModel)",
            "coef": FrictionModel().fit(Xg, yg).coef_.tolist(), "loo_residuals_log": residuals.tolist(),
            "loo_rmse_log": float(np.sqrt(np.mean(residuals ** 2))),
            "loo_rmse_log_mean_baseline": float(np.sqrt(np.mean(mean_loo ** 2))),
            "dpd_cutoff": data["dpd_cutoff"], "n": int(known.sum())}
    files.write_json(Path(path) if path else MODELS_FILE, out)
    return out


class CampaignModels:
    """The shipped models, conditioned: predict(x19) → tables, bands and the friction."""

    def __init__(self, meta: dict):
        self.meta = meta
        self.grid = np.asarray(meta["grid"], float)
        self.potentials = {k: ShippedPotential.from_json(e) for k, e in meta["models"].items()
                           if k in ("structure", "mobility") and "mean" in e}
        self.gamma = meta["models"].get("dpd_gamma")

    def predict(self, x19) -> dict:
        x = np.asarray(x19, float).reshape(1, -1)
        out = {kind: tuple(a[0] for a in m.predict(x)) for kind, m in self.potentials.items()}
        if self.gamma is not None:
            gamma = float(FrictionModel.from_coef(self.gamma["coef"]).predict(x)[0][0])
            q = {lv: conformal_quantile(np.asarray(self.gamma["loo_residuals_log"]), lv) for lv in LEVELS}
            out["dpd_gamma"] = (gamma, {lv: (gamma * np.exp(-q[lv]), gamma * np.exp(q[lv])) for lv in LEVELS})
        return out


def load(path=None) -> CampaignModels | None:
    """The shipped campaign models, or None where none are shipped."""
    path = Path(path) if path is not None else MODELS_FILE
    if not path.is_file():
        return None
    meta = json.loads(path.read_text())
    if meta.get("format") != FORMAT:
        raise CampaignModelError(f"{path}: format {meta.get('format')!r}, expected {FORMAT}")
    return CampaignModels(meta)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mobcg.campaign_models", description=__doc__.split("\n\n")[0])
    parser.add_argument("--fit", required=True, metavar="RELEASE", help="data release folder, e.g. data/campaign-2026-12")
    parser.add_argument("--out", default=None, help=f"default: {MODELS_FILE}")
    args = parser.parse_args(argv)
    out = fit(args.fit, args.out)
    for name, e in out["models"].items():
        print(f"{name}: " + (e["note"] if "note" in e else
                             f"{e['n']} rows" + (f", 5-fold CV RMSE {e['cv_rmse']:.3f} kcal/mol (mean: {e['rmse_mean_baseline']:.3f})"
                                                 if "cv_rmse" in e else "")
                             + (f", leave-one-out RMSE of log γ {e['loo_rmse_log']:.2f} (mean: "
                                f"{e['loo_rmse_log_mean_baseline']:.2f})" if "loo_rmse_log" in e else "")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
