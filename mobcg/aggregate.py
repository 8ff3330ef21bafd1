"""Aggregate stages over all finished jobs: datasets, models, closed-loop validation, report.

Files go to the project's `analysis/` folder, each written atomically. Every aggregate output records
the job ids it was built from, so a postcondition notices when the set of finished jobs changed.
Units: r in Å, U in kcal/mol, D in 1e-9 m²/s.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from . import analysis, cg, datasets, files, forcefield, friction, ibi, jobs, lammps, molecule, presets, tables
from .lammps import trajectory


DATASETS = "datasets.npz"
DATASETS_JSON = "datasets.json"
MODELS_JSON = "models.json"
REPORT = "report.md"
# Dataset grid for potentials. Below 5 Å the AA centre-of-mass g(r) is zero: the IBI potential
# there is an extrapolated wall, not information, so (as the paper) the grid starts at 5 Å; it ends
# at the smallest IBI cut-off of the jobs (15.5 Å paper, 12 Å demo), 0.01 Å steps as the tables.
R_MIN, DR = 5.0, 0.01
RDF_GRID_DR = 0.05  # Å, as the published RDFs
PAIRING = {"tol": 0.2, "r2_min": 0.8}  # see datasets.pairing for why


def _models():
    """scikit-learn, imported when models are trained or used, not by every `project.py status`."""
    from . import models
    return models


class AggregateError(RuntimeError):
    pass


# NPT settled; the production kept that density; both MSD fit windows diffusive; both viscosities
# positive, so both D could be moved to an infinite box (cg.mobility_ratio)
TRUST_FLAGS = ("density_converged", "density_steady", "D_AA_diffusive", "D_CG_diffusive", "viscosity_resolved")


def untrusted_because(job) -> list[str]:
    """The trust flags this job's numbers lack (empty: an equilibrated liquid that stayed so through its
    production, diffusive D_AA and D_CG)."""
    return missing_flags(jobs.document(job))


def missing_flags(doc: dict) -> list[str]:
    """untrusted_because for a job document read elsewhere (a data release's copy)."""
    return [flag for flag in TRUST_FLAGS if doc.get(flag) is not True]


def finished(job) -> bool:
    """A job whose per-job pipeline ended with alpha, did not fail, and whose numbers can be trusted
    (untrusted_because is empty). Finished-but-flagged jobs keep their results in job.doc but stay
    out of the datasets, the models and validation; the tiny test preset waives the flags
    (analysis.waive_trust) because its trajectories are seconds long."""
    doc = jobs.document(job)
    if "alpha" not in doc or jobs.is_failed(job):
        return False
    return not untrusted_because(job) or bool(jobs.preset(job)["analysis"].get("waive_trust", False))


def fingerprint(ids) -> str:
    return hashlib.sha1(",".join(sorted(ids)).encode()).hexdigest()[:12]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


# what datasets.npz holds; a new one makes datasets built before it stale (2: U_pmf and rho, IBI's start)
DATASETS_FORMAT = 2


def datasets_fingerprint(ids) -> str:
    """The datasets' fingerprint: these job ids, at this DATASETS_FORMAT."""
    return fingerprint(list(ids) + [f"datasets-format-{DATASETS_FORMAT}"])


def datasets_up_to_date(directory, ids) -> bool:
    """True when datasets.json was built from exactly these job ids, at today's format."""
    return _read_json(Path(directory) / DATASETS_JSON).get("fingerprint") == datasets_fingerprint(ids)


# ------------------------------------------------------------------------------------------- datasets

def build_datasets(job_list, directory, tol: float = PAIRING["tol"], r2_min: float = PAIRING["r2_min"]) -> dict:
    """(a) parameters → IBI potential, (b) mobility pairs, (c) scalars; `datasets.npz` + `datasets.json`.

    Holds analysis/.lock (files.locked) throughout, so concurrent builders (run --parallel, two SLURM
    jobs) never interleave their datasets.npz and datasets.json; one that finds them already built from
    the same jobs and settings while it waited returns that summary."""
    job_list = sorted((j for j in job_list if finished(j)), key=lambda j: j.id)
    if not job_list:
        raise AggregateError("no finished jobs to build datasets from")
    directory = Path(directory)
    with files.locked(directory):
        files.sweep_temporaries(directory)  # what a killed writer left
        current = _read_json(directory / DATASETS_JSON)
        if current.get("fingerprint") == datasets_fingerprint([j.id for j in job_list]) and \
                current.get("pairing") == {"tol": tol, "r2_min": r2_min} and (directory / DATASETS).exists():
            return current
        return _build_datasets(job_list, directory, tol, r2_min)


def _build_datasets(job_list, directory: Path, tol: float, r2_min: float) -> dict:
    r_cuts = [float(j.doc.get("ibi_r_cut", jobs.preset(j)["ibi"]["r_cut"])) for j in job_list]
    r = np.round(np.arange(R_MIN, min(r_cuts) - DR / 2, DR), 4)
    X, U, G_aa, G_cg, U_pmf, rho = [], [], [], [], [], []
    rdf_max = min(min(jobs.load_columns(j.fn("rdf_aa.txt"))[-1, 0], jobs.load_columns(j.fn(cg.RDF))[-1, 0])
                  for j in job_list)
    r_rdf = np.round(np.arange(1.0, rdf_max, RDF_GRID_DR), 4)
    for j, r_cut in zip(job_list, r_cuts):
        X.append(forcefield.vector(jobs.forcefield(j)))
        U.append(tables.resample(tables.read_csv(j.fn(cg.POTENTIAL + ".csv")), r).U)
        aa_rdf, cg_rdf = jobs.load_columns(j.fn("rdf_aa.txt")), jobs.load_columns(j.fn(cg.RDF))
        G_aa.append(np.interp(r_rdf, aa_rdf[:, 0], aa_rdf[:, 1]))
        G_cg.append(np.interp(r_rdf, cg_rdf[:, 0], cg_rdf[:, 1]))
        U_pmf.append(_pmf(aa_rdf, jobs.info(j).T, r_cut, r))
        rho.append(_bead_density(j.doc))
    ids = [j.id for j in job_list]
    # molecule descriptors beside the 19 parameters, so models can learn across molecules
    mols = [molecule.resolve(jobs.molecule(j)) for j in job_list]
    desc = np.array([[molecule.descriptors(m)[k] for k in molecule.DESCRIPTORS] for m in mols])
    holdout = np.array([bool(j.doc.get("holdout", False)) for j in job_list])
    # one convention: infinite-box D of both models (Yeh–Hummer with each model's own viscosity)
    d_aa = np.array([cg.infinite_D(j.doc, "AA")[0] for j in job_list])
    d_cg = np.array([cg.infinite_D(j.doc, "CG")[0] for j in job_list])
    alpha = np.array([j.doc["alpha"] for j in job_list])
    # the friction matched to D_AA (match_mobility; NaN where it was not reached)
    gamma = np.array([cg.matched_gamma(j.doc) for j in job_list])
    dpd_cutoff = np.array([float(j.doc.get("dpd_cutoff", np.nan)) for j in job_list])
    train = np.where(~holdout)[0]
    # Pairs among training jobs only: held-out systems must stay unseen.
    local = datasets.pairing(d_aa[train], d_cg[train], np.array(G_aa)[train], np.array(G_cg)[train], tol, r2_min) \
        if len(train) > 1 else []
    pairs = np.array([(train[i], train[k]) for i, k in local], dtype=int).reshape(-1, 2)
    with files.atomic_path(directory / DATASETS) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, ids=np.array(ids), X=np.array(X), r=r, U=np.array(U), r_rdf=r_rdf, rdf_aa=np.array(G_aa),
                     rdf_cg=np.array(G_cg), U_pmf=np.array(U_pmf), rho=np.array(rho), D_AA=d_aa, D_CG=d_cg,
                     alpha=alpha, dpd_gamma=gamma, dpd_cutoff=dpd_cutoff, holdout=holdout, pairs=pairs,
                     molecule=np.array(mols), descriptors=desc, descriptor_names=np.array(molecule.DESCRIPTORS))
    summary = {"fingerprint": datasets_fingerprint(ids), "format": DATASETS_FORMAT, "ids": ids, "n_jobs": len(ids),
               "n_train": int(len(train)), "n_holdout": int(holdout.sum()), "n_pairs": int(len(pairs)),
               "grid": [float(r[0]), float(r[-1]), DR],
               "rdf_grid": [float(r_rdf[0]), float(r_rdf[-1]), RDF_GRID_DR], "pairing": {"tol": tol, "r2_min": r2_min},
               "parameters": forcefield.PARAMETER_NAMES, "molecules": sorted(set(mols)),
               "descriptors": list(molecule.DESCRIPTORS)}
    files.write_json(directory / DATASETS_JSON, summary)
    return summary


def _pmf(aa_rdf: np.ndarray, T: float, r_cut: float, r: np.ndarray) -> np.ndarray:
    """The PMF start IBI took from this AA RDF (ibi.pmf_start at the job's cut-off), on r; NaN where the
    RDF samples too little to give one."""
    try:
        r_cut = min(r_cut, float(aa_rdf[-1, 0]))  # IBI's cut-off is its grid's last bin, read back in float32
        return np.interp(r, aa_rdf[:, 0], ibi.pmf_start(aa_rdf[:, 0], aa_rdf[:, 1], T, r_cut), right=0.0)
    except ValueError:
        return np.full(len(r), np.nan)


def _bead_density(doc: dict) -> float:
    """Molecules (CG beads) per Å³ of the AA production (n_molecules / box_AA³), NaN when not recorded."""
    try:
        return float(doc["n_molecules"]) / float(doc["box_AA"]) ** 3
    except (KeyError, TypeError, ZeroDivisionError):
        return float("nan")


def load_datasets(directory) -> dict:
    path = Path(directory) / DATASETS
    try:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, KeyError) as exc:
        raise AggregateError(f"{path}: unreadable dataset ({exc}); rerun build_datasets") from None


# ------------------------------------------------------------------------------------------- models

def _cv_scalar(make, X, y, seed=0) -> dict:
    """k-fold CV (k = min(5, n)) with out-of-fold predictions for parity plots."""
    from sklearn.metrics import mean_absolute_error, r2_score
    from sklearn.model_selection import KFold
    n = len(y)
    if n < 4:
        return {"note": f"too few training jobs ({n}) for cross-validation", "n": n}
    pred = np.empty(n)
    for tr, te in KFold(n_splits=min(5, n), shuffle=True, random_state=seed).split(X):
        pred[te] = make().fit(X[tr], y[tr]).predict(X[te])[0]
    return {"r2": float(r2_score(y, pred)), "mae": float(mean_absolute_error(y, pred)), "n": n,
            "k": min(5, n), "y": y.tolist(), "pred": pred.tolist()}


def _cv_potential(make, X, U, seed=0) -> dict:
    from sklearn.model_selection import KFold
    n = len(U)
    if n < 4:
        return {"note": f"too few training samples ({n}) for cross-validation", "n": n}
    rmse, base = [], []
    for tr, te in KFold(n_splits=min(5, n), shuffle=True, random_state=seed).split(X):
        pred = make().fit(X[tr], U[tr]).predict(X[te])[0]
        rmse.append(np.sqrt(np.mean((pred - U[te]) ** 2)))
        base.append(np.sqrt(np.mean((U[tr].mean(0) - U[te]) ** 2)))  # predict-the-mean baseline
    return {"rmse": float(np.mean(rmse)), "rmse_mean_baseline": float(np.mean(base)), "n": n, "k": min(5, n)}


def _learning_curve(make, X, y, seed=0) -> dict:
    from sklearn.metrics import mean_absolute_error
    from sklearn.model_selection import train_test_split
    n = len(y)
    if n < 8:
        return {"note": f"too few training jobs ({n}) for a learning curve"}
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=seed)
    sizes = sorted({max(3, int(f * len(ytr))) for f in (0.25, 0.5, 0.75, 1.0)})
    return {"sizes": sizes, "mae": [float(mean_absolute_error(yte, make().fit(Xtr[:s], ytr[:s]).predict(Xte)[0]))
                                    for s in sizes]}


def _scalar_model():
    return _models().ScalarModel(n_members=5, target_transform="log", hidden_layer_sizes=(16,), alpha=1e-1)


def _potential_model():
    return _models().PotentialModel(n_components=4, hidden_layer_sizes=(16,), n_members=5)


def fit_potential(trained_on: list[str], X, U, r=None):
    """(fitted potential model, its 5-fold CV scores). For the paper's molecule alone two models compete
    and the one with the smaller CV error is kept: the potentials as a polynomial in the AA mobility that
    the published-data model predicts (models.MobilityPotentialModel; the better one at tens of jobs,
    where 19 parameters are hardly learnt) and the MLP ensemble on the parameters (which may win with
    hundreds). Other molecules, or too few jobs to cross-validate (< 4): the MLP ensemble."""
    makers = [_potential_model]
    if list(trained_on) == [molecule.DEFAULT]:
        makers.insert(0, _models().MobilityPotentialModel)
    scored = [(make, _cv_potential(make, X, U)) for make in makers]
    if any("rmse" not in scores for _, scores in scored):
        make, scores = scored[-1]
    else:
        make, scores = min(scored, key=lambda item: item[1]["rmse"])
        scores = scores | {"candidates": {m().__class__.__name__: s["rmse"] for m, s in scored}}
    model = make().fit(X, U, r=r)
    return model, scores | {"model": model.__class__.__name__}


IBI_START = "models/ibi_start.json"


def fit_start_correction(directory: Path, data: dict, train: np.ndarray, trained_on: list[str], fp: str) -> dict:
    """IBI's warm start (ibi.StartCorrection): what the training jobs' converged tables added to their PMF
    starts, as a line in the bead density, written to models/ibi_start.json; its leave-one-out RMS error
    against the PMF's own (kcal/mol, on the dataset grid). One molecule only (the correction is that
    molecule's many-body part); jobs from before the datasets held the PMF and density are left out."""
    (directory / IBI_START).unlink(missing_ok=True)  # none from other training jobs survives a refit
    if len(trained_on) != 1:
        return {"note": "the start correction is fitted for one molecule at a time: not trained"}
    if "U_pmf" in data:
        rows = train & np.all(np.isfinite(data["U_pmf"]), axis=1) & np.isfinite(data["rho"])
    if "U_pmf" not in data or not rows.any():
        return {"note": "no training job records its PMF and density: not trained"}
    dU = data["U"][rows] - data["U_pmf"][rows]
    fit, loo = ibi.fit_start_correction(data["r"], dU, data["rho"][rows], f"pmf+correction:{fp}")
    scores = {"file": IBI_START, "n": fit.n, "molecule": trained_on[0], "linear": bool(np.any(fit.b)),
              "pmf_rmse": float(np.sqrt(np.mean(dU ** 2)))}
    if np.all(np.isfinite(loo)):  # (one row cannot be left out)
        scores["loo_rmse"] = float(np.sqrt(np.mean(loo ** 2)))
    files.write_json(directory / IBI_START, scores | {"source": fit.source, "r": fit.r.tolist(),
                                                      "a": fit.a.tolist(), "b": fit.b.tolist()})
    return scores


def train_models(directory) -> dict:
    """Structure- and mobility-preserving potential models, alpha/D_CG/D_AA regressors; models.json.
    Under analysis/.lock, like build_datasets."""
    directory = Path(directory)
    with files.locked(directory):
        files.sweep_temporaries(directory)
        return _train_models(directory)


def _inputs(data: dict, train: np.ndarray) -> tuple[np.ndarray, list[str], list[str]]:
    """(model inputs of every dataset row, descriptor names used, training molecules). The molecule
    descriptors join the 19 parameters only when the training jobs hold more than one molecule: for
    one molecule they are constant columns that carry nothing (and a dataset from before descriptors
    is one molecule, the default)."""
    names = data.get("molecule", np.array([molecule.DEFAULT] * len(data["X"])))
    trained_on = sorted(set(names[train].tolist()))
    if len(trained_on) > 1:
        return np.hstack([data["X"], data["descriptors"]]), list(molecule.DESCRIPTORS), trained_on
    return data["X"], [], trained_on


def model_input(x: np.ndarray, meta: dict, name: str | None, where: str = "parameters") -> np.ndarray:
    """The (1, 19) parameters, with the molecule's descriptors appended when the model was trained
    across molecules; AggregateError for a molecule a one-molecule model never saw."""
    name = molecule.resolve(name or molecule.DEFAULT)
    trained_on = meta.get("molecules", [molecule.DEFAULT])
    if not meta.get("descriptors"):
        if name not in trained_on:
            raise AggregateError(f"{where}: molecule {name}: these models were trained on {', '.join(trained_on)} only")
        return x
    d = molecule.descriptors(name)
    return np.hstack([x, [[d[k] for k in meta["descriptors"]]]])


def _train_models(directory: Path) -> dict:
    data = load_datasets(directory)
    train = ~data["holdout"]
    ids = data["ids"][train].tolist()
    if train.sum() < 2:
        raise AggregateError(f"{train.sum()} training job(s): need at least 2 finished, non-held-out jobs")
    X_all, used, trained_on = _inputs(data, train)
    X, r = X_all[train], data["r"]
    meta = {"grid": r.tolist(), "parameters": forcefield.PARAMETER_NAMES, "training_ids": ids,
            "descriptors": used, "molecules": trained_on,
            "dataset": _read_json(directory / DATASETS_JSON).get("fingerprint")}
    out = {"fingerprint": fingerprint(ids + [str(meta["dataset"])]), "dataset": meta["dataset"], "models": {},
           "n_train": int(train.sum()), "molecules": trained_on, "descriptors": used,
           "versions": _models().library_versions()}
    (directory / "models").mkdir(parents=True, exist_ok=True)
    structure, scores = fit_potential(trained_on, X, data["U"][train], r)
    _models().save(structure, directory / "models" / "structure.joblib", meta | {"scores": scores})
    out["models"]["structure"] = {"file": "models/structure.joblib", "n_samples": int(train.sum()), **scores}
    out["models"]["ibi_start"] = fit_start_correction(directory, data, train, trained_on, out["fingerprint"])
    pairs = data["pairs"]
    if len(pairs):
        Xp, Up = X_all[pairs[:, 0]], data["U"][pairs[:, 1]]
        mobility, scores = fit_potential(trained_on, Xp, Up, r)
        _models().save(mobility, directory / "models" / "mobility.joblib",
                    meta | {"scores": scores, "pairs": [[str(data["ids"][i]), str(data["ids"][j])] for i, j in pairs]})
        out["models"]["mobility"] = {"file": "models/mobility.joblib", "n_samples": int(len(pairs)), **scores}
    else:
        out["models"]["mobility"] = {"note": "no mobility-preserving pairs among the training jobs "
                                             f"(tol {PAIRING['tol']}, r² ≥ {PAIRING['r2_min']}): not trained"}
    for target in SCALAR_TARGETS:
        y = data.get(target, np.full(len(X_all), np.nan))[train]
        known = np.isfinite(y)  # dpd_gamma: only where match_mobility reached the AA mobility
        if known.sum() < 2:
            out["models"][target] = {"note": f"{int(known.sum())} training job(s) with {target}: not trained"}
            continue
        Xk, yk = X[known], y[known]
        # the friction follows the AA mobility, which the published-data model predicts for the paper's
        # molecule (models.FrictionModel); other molecules: a regression on the parameters
        make = _models().FrictionModel if target == "dpd_gamma" and trained_on == [molecule.DEFAULT] else _scalar_model
        model = make().fit(Xk, yk)
        scores = _cv_scalar(make, Xk, yk) | {"learning_curve": _learning_curve(make, Xk, yk)}
        extra = {"dpd_cutoff": float(np.nanmedian(data["dpd_cutoff"][train][known]))} if target == "dpd_gamma" else {}
        _models().save(model, directory / "models" / f"{target}.joblib",
                       meta | {"scores": scores, "target": target} | extra)
        out["models"][target] = {"file": f"models/{target}.joblib", **scores, **extra}
    files.write_json(directory / MODELS_JSON, out)
    return out


# alpha, D_CG and D_AA in an infinite box; dpd_gamma: the DPD friction (kcal fs/(mol Å²)) with which the
# structure-preserving table moves at D_AA (log-transformed like the others)
SCALAR_TARGETS = ("alpha", "D_CG", "D_AA", "dpd_gamma")


def models_up_to_date(directory, ids) -> bool:
    """True when models.json was trained on the datasets built from exactly these job ids."""
    return _read_json(Path(directory) / MODELS_JSON).get("dataset") == datasets_fingerprint(ids)


def models_fingerprint(directory) -> str | None:
    # Asked once per held-out job by `status`: read once per status (jobs.snapshot).
    return jobs.once(("models_fingerprint", str(directory)),
                     lambda: _read_json(Path(directory) / MODELS_JSON).get("fingerprint"))


def report_fingerprint(directory) -> str | None:
    """The models fingerprint the report was written for (its last line), or None."""
    path = Path(directory) / REPORT
    if not path.exists():
        return None
    last = path.read_text().strip().splitlines()[-1]
    return last.split()[2] if last.startswith("<!-- models") else None


# ------------------------------------------------------------------------------------------- predict

def check_parameters(flat, where: str = "parameters") -> np.ndarray:
    """The 19 parameters as a model input; one clear error for missing keys, non-numbers, out-of-box values."""
    return forcefield.check_model_input(flat, where)


def predict(flat: dict, directory, out=None, where: str = "parameters") -> dict:
    """Both potentials as LAMMPS/GROMACS/CSV tables (with their band) and alpha, D_CG, D_AA
    with calibrated intervals, from this project's models. ``out`` None: scalars only, nothing written.
    ``flat`` may name its "molecule" (table name or SMILES; default 2,3,4-trimethylpentane)."""
    if isinstance(flat, dict) and "molecule" in flat:
        flat = dict(flat)
        name = flat.pop("molecule")
        try:
            molecule.resolve(name)
        except molecule.MoleculeError as exc:
            raise AggregateError(f"{where}: {exc}") from None
    else:
        name = None
    x = check_parameters(flat, where)
    directory = Path(directory)
    if not (directory / MODELS_JSON).exists():
        raise AggregateError(f"{directory / MODELS_JSON}: no trained models (run `python project.py run` first)")
    with files.locked(directory, shared=True):  # models of one generation, not half old, half new
        return _predict(x, flat, directory, None if out is None else Path(out), name, where)


# Fewer training jobs than this: CV residuals are too few to calibrate an interval, so the model
# says it is untrustworthy instead of printing an ensemble spread (which was ± 0.00 on 4 jobs).
MIN_TRUSTED_JOBS = 10


def scalar_interval(value: float, info: dict, level: float):
    """Conformal interval from the model's out-of-fold CV predictions (models.json "y"/"pred"):
    the quantile of |log(y / pred)| applied multiplicatively; None when it cannot be calibrated."""
    from .published import conformal_quantile
    if info.get("n", 0) < MIN_TRUSTED_JOBS or "pred" not in info:
        return None
    y, p = np.asarray(info["y"], dtype=float), np.asarray(info["pred"], dtype=float)
    q = conformal_quantile(np.log(np.maximum(y, 1e-300) / np.maximum(p, 1e-300)), level)
    return [float(value * np.exp(-q)), float(value * np.exp(q))]


def predicted_potential(directory, forcefield_: dict, kind: str = "structure", name: str | None = None,
                        where: str = "parameters"):
    """(grid Å, U kcal/mol, models fingerprint) the trained `kind` model predicts for one force field
    of molecule `name`; FileNotFoundError when no such model is trained."""
    directory = Path(directory)
    path = directory / "models" / f"{kind}.joblib"
    if not path.exists():
        raise FileNotFoundError(path)
    with files.locked(directory, shared=True):
        model, meta = _models().load(path)
    U, _ = model.predict(model_input(forcefield.vector(forcefield_)[None, :], meta, name, where))
    return np.asarray(meta["grid"], dtype=float), np.asarray(U[0], dtype=float), models_fingerprint(directory)


def warm_start(directory, molecule_: str | None = None, progress=None) -> "ibi.StartCorrection | None":
    """IBI's start for a new job of `molecule_` (cg.run_ibi's `start`): its own PMF plus the correction the
    finished jobs' IBI made to theirs (fit_start_correction); None (the PMF alone) while none is trained,
    or for another molecule. A file that cannot be read is a start guess lost, not a failed job: None,
    with a line saying why."""
    path = Path(directory) / IBI_START
    if not path.exists():
        return None
    try:
        with files.locked(directory, shared=True):
            d = json.loads(path.read_text())
        if d["molecule"] != molecule.resolve(molecule_ or molecule.DEFAULT):
            return None
        return ibi.StartCorrection(np.asarray(d["r"], dtype=float), np.asarray(d["a"], dtype=float),
                                   np.asarray(d["b"], dtype=float), d["source"], int(d["n"]))
    except Exception as exc:  # a start guess is never worth failing the job for
        if progress:
            progress(f"IBI start correction unusable ({exc}); IBI starts from the PMF")
        return None


def _predict(x19, flat, directory: Path, out: Path | None, name: str | None = None,
             where: str = "parameters") -> dict:
    models_json = _read_json(directory / MODELS_JSON)
    x = model_input(x19, models_json, name, where)
    result = {"parameters": forcefield.flatten(forcefield.nest(flat)), "tables": {},
              "source": "project", "models_fingerprint": models_json.get("fingerprint"),
              "n_train": models_json.get("n_train")}
    r_cuts = {}
    for kind in ("structure", "mobility"):
        path = directory / "models" / f"{kind}.joblib"
        if not path.exists() or out is None:
            result["tables"][kind] = None
            continue
        model, meta = _models().load(path)
        U, U_std = model.predict(x)
        grid = np.asarray(meta["grid"])
        r_cuts[kind] = float(grid[-1])
        table = tables.simulation_ready(grid, U[0], r_cut=meta["grid"][-1])
        result["tables"][kind] = {k: str(v) for k, v in tables.export_all(table, out, f"{kind}_potential").items()}
        # The band beside the table: the model's standard deviation on its grid.
        band = "\n".join(f"{a:.4f},{b:.6g},{c:.6g}" for a, b, c in zip(grid, U[0], U_std[0]))
        files.write_text(out / f"{kind}_potential_band.csv",
                         "r_angstrom,U_mean_kcal_per_mol,U_std_kcal_per_mol\n" + band + "\n")
        result["tables"][kind]["band"] = str(out / f"{kind}_potential_band.csv")
        result[f"{kind}_uncertainty_kcal_per_mol"] = float(np.max(U_std))
    for target in SCALAR_TARGETS:
        if not (directory / "models" / f"{target}.joblib").exists():  # dpd_gamma: until match_mobility ran
            continue
        model, _ = _models().load(directory / "models" / f"{target}.joblib")
        mean, std = model.predict(x)
        result[target], result[f"{target}_std"] = float(mean[0]), float(std[0])
        info = models_json.get("models", {}).get(target, {})
        result[f"{target}_cv"] = {k: info[k] for k in ("r2", "mae", "n", "k") if k in info}
        for level in (0.68, 0.95):
            result[f"{target}_interval_{int(level * 100)}"] = scalar_interval(result[target], info, level)
        if result[f"{target}_interval_68"] is None:
            result[f"{target}_note"] = (f"untrustworthy: trained on {info.get('n', models_json.get('n_train'))} "
                                        f"job(s), fewer than {MIN_TRUSTED_JOBS}")
    if out is not None and "dpd_gamma" in result and result["tables"].get("structure"):
        # structure and mobility in one model: the structure-preserving table with the predicted friction
        cutoff = float(models_json["models"]["dpd_gamma"]["dpd_cutoff"])  # Å, the training jobs' median
        mass = molecule.molar_mass(name or molecule.DEFAULT)
        text = friction.fragment("structure_potential.table", r_cuts["structure"], result["dpd_gamma"],
                                 cutoff, presets.TEMPERATURE, mass, keyword="structure_potential", table_style=cg.TABLE_STYLE,
                                 job="predicted")
        result["dpd_fragment"] = str(files.write_text(out / "structure_dpd.in", text))
        result["dpd_cutoff"] = cutoff
    if out is not None:
        files.write_json(out / "prediction.json", result)
    return result



# ------------------------------------------------------------------------------------------- validation

def validate(job, directory, np_: int = 1) -> dict:
    """Closed loop on a held-out job: simulate what the models predict for its force field at its state
    (cg.model_run) and score it against the job's own AA liquid: the structure- and mobility-preserving
    tables under Nosé–Hoover, and the structure-preserving table with the predicted DPD friction
    ("dpd"): RDF r² against the AA target, alpha_pred = D_CG_inf of the run / D_AA_inf of the job."""
    directory = Path(directory)
    files.sweep_temporaries(job.path)  # what a killed earlier attempt left
    info = jobs.info(job)
    sec = dict(info.preset["cg"])
    inp = cg.aa_input(info)
    positions, box = cg.replicated(inp.positions, inp.box, sec.get("min_beads"))
    results = {}
    for kind, table, r_cut, friction_ in _predicted_models(job, directory):
        try:
            run = cg.model_run(info, table, r_cut, sec, positions, box, Path(info.fn(f"validate_{kind}")), kind,
                               friction_, np=np_)
        except (lammps.LammpsError, jobs.StageFailed) as exc:
            if isinstance(exc, files.MachineError):
                raise
            # A predicted potential that breaks the CG liquid is a validation result, not a crash.
            results[f"validation_error_{kind}"] = str(exc)
            continue
        results.update({f"rdf_r2_{kind}": run["rdf_r2"], f"D_CG_pred_{kind}": run["D_CG_inf"],
                        f"alpha_pred_{kind}": run["D_CG_inf"] / cg.infinite_D(job.doc, "AA")[0],
                        f"eta_CG_pred_{kind}": run["eta_CG"], f"viscosity_resolved_{kind}": run["viscosity_resolved"]})
    results["validated_with"] = models_fingerprint(directory)
    job.doc.update(results)
    return results


def _predicted_models(job, directory: Path):
    """(kind, table, r_cut, friction) of each model the trained models predict for the job: "structure"
    and "mobility" (Nosé–Hoover), and "dpd" (the structure table with the predicted friction)."""
    x = forcefield.vector(jobs.forcefield(job))[None, :]
    out = {}
    for kind in ("structure", "mobility"):
        path = directory / "models" / f"{kind}.joblib"
        if not path.exists():
            continue
        with files.locked(directory, shared=True):
            model, meta = _models().load(path)
        U, _ = model.predict(model_input(x, meta, jobs.molecule(job), f"job {job.id}"))
        r_cut = float(meta["grid"][-1])
        out[kind] = (kind, tables.simulation_ready(np.asarray(meta["grid"]), U[0], r_cut=r_cut), r_cut, None)
    gamma_path = directory / "models" / "dpd_gamma.joblib"
    if "structure" in out and gamma_path.exists():
        with files.locked(directory, shared=True):
            model, meta = _models().load(gamma_path)
        gamma = float(model.predict(model_input(x, meta, jobs.molecule(job), f"job {job.id}"))[0][0])
        _, table, r_cut, _ = out["structure"]
        out["dpd"] = ("dpd", table, r_cut, {"kind": "dpd", "gamma": gamma, "cutoff": float(meta["dpd_cutoff"])})
    return list(out.values())
