"""Read trajectory arrays from the files people keep them in (NumPy and h5py only, no TensorFlow).

One entry point, ``read_arrays(path, key=..., columns=..., time_column=...)``,
returns a ``RawArrays``: the arrays of one file (memory-mapped where the
format allows), their time step when the file carries times, and the format.
``load_trajectories`` (``data``) and ``load_set`` (``data.sets``) build on it;
every command and the Python API go through them.

The format is detected from the first bytes, not the extension (a valid
``.npy`` named ``.dat`` is read as ``.npy``):

========  ===================  ==========================================================
format    magic                how it is read
========  ===================  ==========================================================
npy       ``\\x93NUMPY``        memory-mapped (``numpy.load(mmap_mode="r")``)
npz       ``PK\\x03\\x04``       ``key``: the array to use; one array: used automatically;
                               several: ``key`` is required (the error lists the keys),
                               ``"*"`` or ``"a,b"`` take several as a ragged set.
                               Uncompressed members are memory-mapped, compressed ones
                               are read into memory.
hdf5      ``\\x89HDF\\r\\n\\x1a\\n``  ``key``: the dataset path (``/group/data``; one dataset:
                               used automatically). Contiguous datasets are
                               memory-mapped (read lazily, larger than RAM is fine);
                               chunked or compressed ones are read into memory.
text      anything else        CSV / TSV / whitespace (delimiter from the first line),
                               ``#`` comments, a header line detected when any field is
                               not a number. ``columns``: names or 0-based indices of the
                               state columns (default: every column but the time column).
                               A column named ``t`` or ``time`` (or ``time_column``) gives
                               the times: evenly spaced for continuous states (it sets
                               dt; uneven spacing is an error), any spacing for a single
                               discrete state column (jump data, see ``data``). A column
                               named ``wait``/``waiting_time``/``dwell`` (or
                               ``waiting_time_column``) gives each state's waiting time.
========  ===================  ==========================================================

Every problem raises ``ValueError`` with one line naming the file and what is wrong.
"""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["RawArrays", "read_arrays", "detect_format", "FORMATS"]

FORMATS = ("npy", "npz", "hdf5", "text")
_MAGIC = {b"\x93NUMPY": "npy", b"PK\x03\x04": "npz", b"\x89HDF\r\n\x1a\n": "hdf5"}
_SUFFIXES = {".npy": "NumPy .npy", ".npz": "NumPy .npz", ".h5": "HDF5", ".hdf5": "HDF5", ".hdf": "HDF5"}
_TIME_NAMES = ("t", "time", "times")
_WAIT_NAMES = ("wait", "waiting_time", "waiting", "dwell", "dwell_time")
_REGULAR_TOLERANCE = 1e-3  # relative deviation of a time step from the median step still called regular


@dataclasses.dataclass(frozen=True)
class RawArrays:
    """What one file holds, before validation.

    Attributes
    ----------
    arrays : tuple of np.ndarray
        One array per key read (one for most files): states ``(M, L[, d])``,
        ``(L, d)`` or ``(L,)``; numeric or, from text, strings (labels).
    names : tuple of str
        Where each array came from (``path``, ``path:key``).
    dt : float or None
        Time step from an evenly spaced time column.
    waiting_times : np.ndarray or None
        Jump data: the time spent in each state before the next jump
        (``(L - 1,)``, one trajectory), from a time or waiting-time column.
    fmt : str
        One of ``FORMATS``.
    """

    arrays: tuple
    names: tuple
    dt: float | None = None
    waiting_times: np.ndarray | None = None
    fmt: str = "npy"


def detect_format(path: str | Path) -> str:
    """The format of ``path`` from its first bytes: ``npy``, ``npz``, ``hdf5`` or ``text``."""
    path = _existing(Path(path))
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError as err:
        raise ValueError(f"trajectory file {str(path)!r} cannot be read ({err.strerror})") from None
    for magic, fmt in _MAGIC.items():
        if head.startswith(magic):
            return fmt
    claimed = _SUFFIXES.get(path.suffix.lower())
    if claimed is not None:
        raise ValueError(f"trajectory file {str(path)!r} is named {path.suffix} but is not a valid {claimed} file "
                         "(its first bytes are not a " + claimed + " header)")
    if not head:
        raise ValueError(f"trajectory file {str(path)!r} is empty")
    if b"\x00" in head:
        raise ValueError(f"trajectory file {str(path)!r} is not a format neep reads "
                         "(.npy, .npz, HDF5, CSV/TSV text)")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 4:  # not just a character cut at the end of the 4 KiB read
            raise ValueError(f"trajectory file {str(path)!r} is not a format neep reads "
                             "(.npy, .npz, HDF5, CSV/TSV text)") from None
    return "text"


def _existing(path: Path) -> Path:
    if not path.exists():
        raise ValueError(f"trajectory file not found: {str(path)!r}")
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a folder, expected a trajectory file")
    return path


def read_arrays(path: str | Path, *, key: str | None = None, columns: str | list | None = None,
                time_column: str | int | None = None, waiting_time_column: str | int | None = None) -> RawArrays:
    """Read the trajectory arrays of one file (see the module doc for formats and options).

    Parameters
    ----------
    path : str or Path
        The file; its format is detected from its content.
    key : str, optional
        npz: member name (``"*"`` or ``"a,b"``: several, a ragged set);
        HDF5: dataset path. Refused for npy and text.
    columns : str or list, optional
        Text only: the state columns, by name or 0-based index (``"x,y"``).
    time_column, waiting_time_column : str or int, optional
        Text only: the column of times, or of waiting times (see module doc).

    Returns
    -------
    RawArrays
    """
    path = Path(path)
    fmt = detect_format(path)
    if fmt != "text" and (columns is not None or time_column is not None or waiting_time_column is not None):
        raise ValueError(f"{str(path)!r} is {fmt}: columns and time columns apply to CSV/TSV text only")
    if fmt == "npy":
        if key is not None:
            raise ValueError(f"{str(path)!r} is a .npy file: it holds one array, --key applies to .npz and HDF5")
        return RawArrays((_open_npy(path),), (str(path),), fmt="npy")
    if fmt == "npz":
        return _read_npz(path, key)
    if fmt == "hdf5":
        return _read_hdf5(path, key)
    if key is not None:
        raise ValueError(f"{str(path)!r} is text (CSV/TSV): --key applies to .npz and HDF5; use --columns")
    return _read_text(path, columns, time_column, waiting_time_column)


# -- npy / npz -----------------------------------------------------------------------------------
def _object_error(name: str) -> ValueError:
    return ValueError(f"{name}: object dtype is not supported, expected float or integer states "
                      "(several trajectories of different lengths: give them as several files or npz keys)")


def _open_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as err:
        if "object" in str(err).lower() or "pickle" in str(err).lower():
            raise _object_error(repr(str(path))) from None
        raise ValueError(f"trajectory file {str(path)!r} is not a valid .npy file ({err})") from None
    except (OSError, EOFError) as err:
        raise ValueError(f"trajectory file {str(path)!r} is not a valid .npy file ({err})") from None


def _npz_member(path: Path, archive: zipfile.ZipFile, member: str) -> np.ndarray:
    """One member of an npz: memory-mapped when stored uncompressed, else read into memory."""
    info = archive.getinfo(member)
    with archive.open(info) as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        if dtype.hasobject:
            raise _object_error(f"{str(path)!r} key {member[:-4]!r}")
        header = handle.tell()
        if info.compress_type == zipfile.ZIP_STORED:
            with open(path, "rb") as raw:  # data offset = local header + name + extra + npy header
                raw.seek(info.header_offset + 26)
                name_len, extra_len = np.frombuffer(raw.read(4), dtype="<u2")
            offset = info.header_offset + 30 + int(name_len) + int(extra_len) + header
            if int(np.prod(shape)) == 0:
                return np.empty(shape, dtype)
            return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                             order="F" if fortran else "C")
        count = int(np.prod(shape))
        data = np.frombuffer(handle.read(count * dtype.itemsize), dtype=dtype, count=count)
        return data.reshape(shape, order="F" if fortran else "C")


def _pick(available: list[str], key: str | None, path: Path, what: str) -> list[str]:
    listing = ", ".join(available)
    if not available:
        raise ValueError(f"{str(path)!r} holds no {what}")
    if key is None:
        if len(available) == 1:
            return available
        raise ValueError(f"{str(path)!r} holds {len(available)} {what}s ({listing}): choose one with --key NAME, "
                         "or --key '*' to read them all as a set of trajectories")
    if key == "*":
        return available
    wanted = [k.strip() for k in key.split(",") if k.strip()]
    missing = [k for k in wanted if k not in available and k.lstrip("/") not in available]
    if missing or not wanted:
        raise ValueError(f"{str(path)!r} has no {what} {', '.join(missing) or repr(key)}; it holds: {listing}")
    return [k if k in available else k.lstrip("/") for k in wanted]


def _read_npz(path: Path, key: str | None) -> RawArrays:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise ValueError(f"trajectory file {str(path)!r} is not a valid .npz file ({err})") from None
    with archive:
        names = [n[:-4] for n in archive.namelist() if n.endswith(".npy")]
        chosen = _pick(names, key, path, "array")
        arrays = []
        for name in chosen:
            try:
                arrays.append(_npz_member(path, archive, name + ".npy"))
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
                if "object dtype" in str(err):
                    raise
                raise ValueError(f"{str(path)!r} key {name!r} is not a valid array ({err})") from None
    return RawArrays(tuple(arrays), tuple(f"{path}:{n}" for n in chosen), fmt="npz")


# -- HDF5 --------------------------------------------------------------------------------------
def _read_hdf5(path: Path, key: str | None) -> RawArrays:
    import h5py  # lazily: a dependency of keras, heavy-ish, needed for HDF5 only

    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"trajectory file {str(path)!r} is not a readable HDF5 file ({err})") from None
    with handle:
        datasets: list[str] = []
        handle.visititems(lambda name, obj: datasets.append(name) if isinstance(obj, h5py.Dataset) else None)
        chosen = _pick(datasets, key, path, "dataset")
        arrays = [_hdf5_array(path, handle[name]) for name in chosen]
    return RawArrays(tuple(arrays), tuple(f"{path}:/{n}" for n in chosen), fmt="hdf5")


def _hdf5_array(path: Path, dataset) -> np.ndarray:
    dtype = dataset.dtype
    if dtype.kind not in "iuf" and dtype.kind != "b":
        raise ValueError(f"{str(path)!r} dataset {dataset.name!r} has dtype {dtype}, expected float or integer states")
    offset = dataset.id.get_offset()
    if offset is not None and dataset.size > 0:  # contiguous, uncompressed: map the bytes directly
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=dataset.shape)
    return dataset[()]  # chunked or compressed: h5py reads it (into memory)


# -- text (CSV / TSV) ------------------------------------------------------------------------------
def _split(line: str, delimiter: str | None) -> list[str]:
    return [f.strip().strip('"').strip("'") for f in (line.split(delimiter) if delimiter else line.split())]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _column_index(spec, header: list[str] | None, width: int, path: Path, what: str) -> int:
    spec = str(spec).strip()
    if header is not None and spec in header:
        return header.index(spec)
    if spec.lstrip("-").isdigit():
        index = int(spec)
        if -width <= index < width:
            return index % width
        raise ValueError(f"{str(path)!r}: {what} {index} is out of range (the file has {width} columns)")
    names = ", ".join(header) if header else f"no header; columns 0..{width - 1}"
    raise ValueError(f"{str(path)!r} has no column {spec!r} ({what}); columns: {names}")


def _read_text(path: Path, columns, time_column, waiting_time_column) -> RawArrays:
    try:
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines()
                 if ln.strip() and not ln.lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"trajectory file {str(path)!r} is neither .npy, .npz, HDF5 nor readable text ({err})") from None
    if not lines:
        raise ValueError(f"trajectory file {str(path)!r} holds no data rows")
    first = lines[0]
    delimiter = "\t" if "\t" in first else ("," if "," in first else (";" if ";" in first else None))
    head = _split(first, delimiter)
    header = head if not all(_is_number(f) for f in head) else None
    data_lines = lines[1:] if header else lines
    width = len(head)
    try:  # numbers only: NumPy's C parser
        table = np.loadtxt(data_lines, delimiter=delimiter, dtype=np.float64, ndmin=2, quotechar='"')
        if table.shape[1] != width:
            raise ValueError("width")
    except ValueError:  # labels, quoted fields or a bad row: field by field, with the row named
        rows = [_split(ln, delimiter) for ln in data_lines]
        for number, row in enumerate(rows):
            if len(row) != width:
                raise ValueError(f"{str(path)!r}: data row {number + 1} has {len(row)} fields, expected {width}")
        table = np.asarray(rows, dtype=str).reshape(len(rows), width)
    if table.shape[0] < 2:
        raise ValueError(f"{str(path)!r}: need at least 2 data rows (states), got {table.shape[0]}")
    first_row = _split(data_lines[0], delimiter) if data_lines else []
    lower = [h.lower() for h in header] if header else None

    def auto(names):
        return next((i for i, h in enumerate(lower or []) if h in names), None)

    t_col = _column_index(time_column, header, width, path, "time column") if time_column is not None else (
        auto(_TIME_NAMES) if columns is None else None)
    w_col = (_column_index(waiting_time_column, header, width, path, "waiting-time column")
             if waiting_time_column is not None else (auto(_WAIT_NAMES) if columns is None else None))
    if t_col is not None and w_col is not None:
        raise ValueError(f"{str(path)!r}: give a time column or a waiting-time column, not both")
    if columns is not None:
        specs = columns.split(",") if isinstance(columns, str) else list(columns)
        state_cols = [_column_index(s, header, width, path, "state column") for s in specs if str(s).strip()]
    else:
        state_cols = [i for i in range(width) if i not in (t_col, w_col)]
    if not state_cols:
        raise ValueError(f"{str(path)!r}: no state column left (columns: {', '.join(header or [])})")
    states = _parse_states(table[:, state_cols], path, [first_row[i] for i in state_cols])
    discrete = states.dtype.kind in "iuU"
    dt, waits = None, None
    if t_col is not None or w_col is not None:
        col = t_col if t_col is not None else w_col
        name = header[col] if header else str(col)
        try:
            values = table[:, col].astype(np.float64)
        except ValueError:
            raise ValueError(f"{str(path)!r}: time column {name!r} holds values that are not numbers") from None
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{str(path)!r}: time column {name!r} holds non-finite values")
        steps = np.diff(values) if t_col is not None else values[:-1]
        if np.any(steps <= 0):
            row = int(np.argmax(steps <= 0))
            what = "times must increase" if t_col is not None else "waiting times must be > 0"
            raise ValueError(f"{str(path)!r}: {what} (column {name!r}, data row {row + 1})")
        if discrete and states.ndim == 1:
            waits = steps
        else:
            if w_col is not None:
                raise ValueError(f"{str(path)!r}: waiting times apply to one column of discrete states (jump data)")
            dt = float(np.median(steps))
            off = np.abs(steps - dt) > _REGULAR_TOLERANCE * dt
            if np.any(off):
                row = int(np.argmax(off))
                raise ValueError(
                    f"{str(path)!r}: time column {name!r} is not evenly spaced (step {steps[row]:.6g} at data row "
                    f"{row + 2}, median {dt:.6g}): NEEP needs a fixed time step; resample the trajectory")
            dt = float(np.sum(steps) / steps.size)  # the span over the steps: printed times' rounding averages out
    return RawArrays((states,), (str(path),), dt=dt, waiting_times=waits, fmt="text")


def _parse_states(table: np.ndarray, path: Path, first_row: list[str]) -> np.ndarray:
    """Integers for one integer column, strings for one non-numeric column, float32 otherwise."""
    if table.shape[1] == 1:
        column = table[:, 0]
        try:
            as_float = column.astype(np.float64)
        except ValueError:
            return column  # labels
        written_as_int = not any(("." in v or "e" in v.lower() or "n" in v.lower()) for v in first_row)
        if written_as_int and np.all(np.isfinite(as_float)) and np.all(as_float == np.round(as_float)):
            return as_float.astype(np.int64)
        return as_float.astype(np.float32)
    try:
        return table.astype(np.float64).astype(np.float32)
    except ValueError:
        bad = str(next(v for v in table.ravel() if not _is_number(v)))
        raise ValueError(f"{str(path)!r}: state value {bad!r} is not a number (several state columns must hold "
                         "numbers; one column of labels is read as discrete states)") from None
