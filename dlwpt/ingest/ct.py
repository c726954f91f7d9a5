"""Chapter 4, volumetric data: a CT series as a 1x1xDxHxW tensor in Hounsfield units. Slices
are sorted by ImagePositionPatient projected on the slice normal (file names carry no order)."""

import numpy as np
import pydicom
import torch
from pydicom.errors import InvalidDicomError

from dlwpt.ingest.common import PathLike, Sources, list_sources, write_outputs
from dlwpt.io import DataError, error_text

# Direction cosines within this are "the same orientation"; positions within it (mm) coincide.
TOLERANCE = 1e-3
# A slice step differing from the series' median step by more than this fraction is a gap.
SPACING_TOLERANCE = 0.05


def _read_slice(path):
    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, ValueError, EOFError) as e:
        raise DataError(path, f"not a DICOM file ({error_text(e)})") from e
    for keyword in ("PixelData", "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing"):
        if keyword not in ds:
            raise DataError(path, f"DICOM file has no {keyword}")
    return ds


def _hounsfield(path, ds) -> np.ndarray:
    try:
        pixels = ds.pixel_array
    except Exception as e:  # pydicom raises several types for undecodable pixel data
        raise DataError(path, f"cannot decode pixel data ({error_text(e)})") from e
    slope, intercept = float(ds.get("RescaleSlope", 1.0)), float(ds.get("RescaleIntercept", 0.0))
    return (pixels.astype(np.float64) * slope + intercept).astype(np.float32)


def ingest_ct(sources: Sources, out_pt: PathLike, out_json: PathLike) -> None:
    """`volume` 1x1xDxHxW float32 HU, `positions` D float64 (ascending, mm), `spacing` (d, h, w)."""
    files = list_sources(sources)
    slices = [_read_slice(path) for path in files]

    first_path, first = files[0], slices[0]
    orientation = np.array(first.ImageOrientationPatient, dtype=np.float64)
    normal = np.cross(orientation[:3], orientation[3:])
    shape = (int(first.Rows), int(first.Columns))
    uid = first.get("SeriesInstanceUID")
    for path, ds in zip(files, slices, strict=True):
        if (int(ds.Rows), int(ds.Columns)) != shape:
            raise DataError(path, f"slice is {ds.Rows}x{ds.Columns}, {first_path.name} is "
                                  f"{shape[0]}x{shape[1]}")
        if ds.get("SeriesInstanceUID") != uid:
            raise DataError(path, f"belongs to another series than {first_path.name}")
        if not np.allclose(np.array(ds.ImageOrientationPatient, dtype=np.float64),
                           orientation, atol=TOLERANCE):
            raise DataError(path, f"slice orientation differs from {first_path.name}")

    positions = np.array([np.dot(np.array(ds.ImagePositionPatient, dtype=np.float64), normal)
                          for ds in slices])
    order = np.argsort(positions, kind="stable")
    positions = positions[order]
    files, slices = [files[i] for i in order], [slices[i] for i in order]
    steps = np.diff(positions)
    if len(steps):
        duplicate = int(np.argmin(steps))
        if steps[duplicate] <= TOLERANCE:
            raise DataError(files[duplicate + 1], f"same slice position ({positions[duplicate]} "
                                                  f"mm) as {files[duplicate].name}")
        step = float(np.median(steps))
        uneven = np.flatnonzero(np.abs(steps - step) > SPACING_TOLERANCE * step)
        if len(uneven):
            i = int(uneven[0])
            raise DataError(files[i + 1], f"slice gap of {steps[i]:g} mm after {files[i].name}, "
                                          f"the series' spacing is {step:g} mm (missing slices?)")
    else:
        step = float(first.get("SliceThickness", 0.0) or 0.0)

    volume = np.stack([_hounsfield(path, ds) for path, ds in zip(files, slices, strict=True)])
    row_spacing, column_spacing = (float(v) for v in first.PixelSpacing)
    tensors = {"volume": torch.from_numpy(volume)[None, None],
               "positions": torch.from_numpy(positions),
               "spacing": torch.tensor([step, row_spacing, column_spacing], dtype=torch.float64)}
    series = {"uid": str(uid), "description": str(first.get("SeriesDescription", "")),
              "modality": str(first.get("Modality", "")), "slices": len(files)}
    write_outputs("ct", out_pt, out_json, tensors, files, series=series,
                  files_in_order=[p.name for p in files])
