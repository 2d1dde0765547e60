"""Small medical files made in the test: NIfTI (nibabel), DICOM slices and series (pydicom), PNG (Pillow).

Tiny on purpose (16^3 volumes, 32^2 images) so that the suite stays fast on two CPU cores.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def write_nifti(path: Path, array: np.ndarray, spacing: tuple[float, ...] = (1.0, 1.0, 1.0)) -> Path:
    import nibabel as nib

    affine = np.diag([*spacing, 1.0])
    nib.save(nib.Nifti1Image(np.asarray(array), affine), str(path))
    return path


def write_dicom_slice(path: Path, pixels: np.ndarray, *, z: float = 0.0, series_uid: str | None = None,
                      instance: int = 1) -> Path:
    """One CT slice with the geometry tags a series reader needs (position, orientation, spacing)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.Modality = "CT"
    ds.InstanceNumber = instance
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelSpacing = [1.0, 1.0]
    ds.SliceThickness = 1.0
    ds.ImagePositionPatient = [0.0, 0.0, float(z)]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.RescaleIntercept, ds.RescaleSlope = 0, 1
    ds.PixelData = np.asarray(pixels, dtype=np.int16).tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return path


def write_dicom_series(folder: Path, volume: np.ndarray) -> Path:
    """A folder of slices (axis 0 of ``volume`` is the slice axis): one volume."""
    from pydicom.uid import generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    uid = generate_uid()
    # Written in reverse order on purpose: the reader must sort slices by position, not by file name.
    for index in reversed(range(volume.shape[0])):
        write_dicom_slice(folder / f"slice{index:03d}.dcm", volume[index], z=float(index), series_uid=uid,
                          instance=index + 1)
    return folder


def write_png(path: Path, array: np.ndarray) -> Path:
    from PIL import Image

    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)
    return path


def blob_volume(label: int, size: int = 16, seed: int = 0) -> np.ndarray:
    """A noisy volume whose class is visible: a bright cube (class 1) or a dark one (class 0), in HU."""
    rng = np.random.default_rng(seed)
    volume = rng.normal(-500.0, 60.0, (size, size, size)).astype(np.float32)
    lo, hi = size // 4, 3 * size // 4
    volume[lo:hi, lo:hi, lo:hi] += 700.0 if label == 1 else -300.0
    return volume
