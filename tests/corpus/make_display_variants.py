"""Writes display-pipeline variants of real pydicom test files (see make_derived.sh)."""
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

src, out = sys.argv[1], sys.argv[2]


def load(name):
    ds = pydicom.dcmread(f"{src}/{name}")
    ds.SOPInstanceUID = generate_uid()
    return ds


# MONOCHROME1: a CT copy with inverted photometric and a window, as CR/DX systems write.
ds = load("CT_small.dcm")
ds.PhotometricInterpretation = "MONOCHROME1"
ds.WindowCenter, ds.WindowWidth = 40, 400
ds.save_as(f"{out}/monochrome1_ct.dcm")

# Several windows: the renderer must take the first.
ds = load("CT_small.dcm")
ds.WindowCenter = [40, -600, 300]
ds.WindowWidth = [400, 1500, 2000]
ds.save_as(f"{out}/three_windows_ct.dcm")

# VOI LUT Function variants.
for fn in ("LINEAR_EXACT", "SIGMOID"):
    ds = load("MR_small.dcm")
    ds.VOILUTFunction = fn
    ds.save_as(f"{out}/voi_{fn.lower()}_mr.dcm")

# Window width 0 (seen in real MR files): must fall back to min-max, never divide by zero.
ds = load("MR_small.dcm")
ds.WindowWidth = 0
ds.save_as(f"{out}/window_width_zero_mr.dcm")

# VOI LUT Sequence (no window): a gamma-like LUT over the MR's range.
ds = load("MR_small.dcm")
del ds.WindowCenter
del ds.WindowWidth
arr = ds.pixel_array
lo, hi = int(arr.min()), int(arr.max())
entries = hi - lo + 1
lut = (np.sqrt(np.linspace(0, 1, entries)) * 4095).astype(np.uint16)
item = Dataset()
item.LUTDescriptor = [entries, lo, 12]
item.add_new(0x00283006, "US", lut.tolist())  # LUT Data
item.LUTExplanation = "sqrt"
ds.VOILUTSequence = Sequence([item])
ds.save_as(f"{out}/voi_lut_sequence_mr.dcm")

# Modality LUT Sequence instead of rescale.
ds = load("MR_small.dcm")
entries = int(arr.max()) + 1
mlut = Dataset()
mlut.LUTDescriptor = [entries, 0, 16]
mlut.add_new(0x00283006, "US", (np.arange(entries) * 2 + 100).astype(np.uint16).tolist())
mlut.ModalityLUTType = "US"
ds.ModalityLUTSequence = Sequence([mlut])
del ds.WindowCenter
del ds.WindowWidth
ds.save_as(f"{out}/modality_lut_sequence_mr.dcm")

# Pixel padding: the CT's minimum marked as padding, no window: min-max must exclude it.
ds = load("CT_small.dcm")
ds.PixelPaddingValue = int(ds.pixel_array.min())
ds["PixelPaddingValue"].VR = "SS"
ds.save_as(f"{out}/pixel_padding_ct.dcm")

# PALETTE COLOR: the 8-bit deflated image's pixels through a 256-entry 16-bit 'hot' palette.
ds = pydicom.dcmread(f"{src}/image_dfl.dcm")
ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
ds.SOPInstanceUID = generate_uid()
ds.PhotometricInterpretation = "PALETTE COLOR"
ramp = np.arange(256, dtype=np.float64) / 255
for k, curve in enumerate((np.clip(ramp * 3, 0, 1), np.clip(ramp * 3 - 1, 0, 1), np.clip(ramp * 3 - 2, 0, 1))):
    ds.add_new(0x00281101 + k, "US", [256, 0, 16])  # Red/Green/Blue Palette Color LUT Descriptor
    ds.add_new(0x00281201 + k, "OW", (curve * 65535).astype("<u2").tobytes())  # ... LUT Data
ds.save_as(f"{out}/palette_color.dcm", write_like_original=False)
