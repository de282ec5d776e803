"""Independent reference rendering of DICOM frames with pydicom + numpy.

This is a second implementation of the display pipeline (PS3.3 C.11.2), written from the
standard and not from eden's C++: Modality LUT (rescale or LUT sequence) -> VOI (first usable
window, else first VOI LUT, else min-max over non-padding pixels) -> MONOCHROME1 inversion ->
8 bits. Colour: YBR -> RGB (PS3.3 C.7.6.3.1.2), palette lookup, >8-bit samples scaled.
Decoding is pydicom's; its pure-Python/numpy handlers (numpy, RLE) and Pillow (JPEG, J2K) are
preferred over GDCM, which is only the fallback for JPEG-LS, 12-bit and lossless JPEG.
Run with Debian's /usr/bin/python3 (python3-pydicom, python3-numpy, python3-pil, python3-gdcm).
"""
import math

import numpy as np
import pydicom
from pydicom import config
from pydicom.pixel_data_handlers import gdcm_handler, numpy_handler, pillow_handler, rle_handler
from pydicom.pixel_data_handlers.util import convert_color_space

config.pixel_data_handlers = [numpy_handler, rle_handler, pillow_handler, gdcm_handler]


def _window(x, center, width, function):
    y_min, y_max = 0.0, 255.0
    if function == "SIGMOID":
        return (y_max - y_min) / (1.0 + np.exp(-4.0 * (x - center) / width)) + y_min
    if function == "LINEAR_EXACT":
        lo, hi = center - width / 2.0, center + width / 2.0
        y = ((x - center) / width + 0.5) * (y_max - y_min) + y_min
    else:  # LINEAR
        lo, hi = center - 0.5 - (width - 1) / 2.0, center - 0.5 + (width - 1) / 2.0
        y = ((x - (center - 0.5)) / (width - 1) + 0.5) * (y_max - y_min) + y_min if width > 1 else np.full_like(x, y_max)
    return np.where(x <= lo, y_min, np.where(x > hi, y_max, y))


def _lut(item, descriptor_kw, data_kw, signed):
    desc = [int(v) for v in item[descriptor_kw].value]
    entries = desc[0] or 65536
    first = desc[1]
    if signed and first >= 32768:
        first -= 65536
    bits = desc[2]
    raw = item[data_kw].value
    if isinstance(raw, (bytes, bytearray)):
        data = np.frombuffer(raw, dtype="<u2")
    else:
        data = np.asarray(raw, dtype=np.uint16)
    if len(data) < entries and bits <= 8:
        data = np.frombuffer(np.asarray(data, dtype="<u2").tobytes(), dtype=np.uint8)
    data = data[:entries].astype(np.float64)
    max_value = float(2**bits - 1)
    if data.max(initial=0) > max_value:
        max_value = 65535.0
    return first, data, max_value


def _apply_lut(x, first, data):
    index = np.clip(np.floor(x) - first, 0, len(data) - 1).astype(np.int64)
    return data[index]


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return [float(v) for v in value]
    return [float(value)]


def frame_pixels(ds, frame):
    arr = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        arr = arr[frame]
    return arr


def render(path, frame=0):
    """Returns the reference 8-bit rendering of `frame` as (H, W) or (H, W, 3) uint8."""
    ds = pydicom.dcmread(path, force=True)
    if "TransferSyntaxUID" not in ds.file_meta:
        # A bare data set (no meta header): pydicom read its encoding from the bytes.
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian if ds.is_implicit_VR else \
            (pydicom.uid.ExplicitVRLittleEndian if ds.is_little_endian else pydicom.uid.ExplicitVRBigEndian)
    arr = frame_pixels(ds, frame)
    pi = str(ds.PhotometricInterpretation).strip()
    signed = int(ds.get("PixelRepresentation", 0)) == 1

    if pi in ("MONOCHROME1", "MONOCHROME2"):
        stored = arr.astype(np.float64)
        if "ModalityLUTSequence" in ds:
            first, data, _ = _lut(ds.ModalityLUTSequence[0], "LUTDescriptor", "LUTData", signed)
            values = _apply_lut(stored, first, data)
        else:
            slope = float(ds.get("RescaleSlope", 1) or 1)
            intercept = float(ds.get("RescaleIntercept", 0) or 0)
            values = stored * slope + intercept

        function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
        if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
            function = "LINEAR"
        centers = _as_list(ds.get("WindowCenter"))
        widths = _as_list(ds.get("WindowWidth"))
        windows = [(c, w) for c, w in zip(centers, widths)
                   if math.isfinite(c) and math.isfinite(w) and (w >= 1 if function == "LINEAR" else w > 0)]
        if windows:
            y = _window(values, windows[0][0], windows[0][1], function)
        elif "VOILUTSequence" in ds:
            lut_signed = signed or float(ds.get("RescaleIntercept", 0) or 0) < 0
            first, data, max_value = _lut(ds.VOILUTSequence[0], "LUTDescriptor", "LUTData", lut_signed)
            y = _apply_lut(values, first, data) * 255.0 / max_value
        else:
            mask = np.ones(stored.shape, dtype=bool)
            if "PixelPaddingValue" in ds:
                pad = int(ds.PixelPaddingValue)
                if "PixelPaddingRangeLimit" in ds:
                    lim = int(ds.PixelPaddingRangeLimit)
                    mask = ~((stored >= min(pad, lim)) & (stored <= max(pad, lim)))
                else:
                    mask = stored != pad
            kept = values[mask] if mask.any() else values
            lo, hi = float(kept.min()), float(kept.max())
            y = np.zeros_like(values) if hi == lo else (values - lo) / (hi - lo) * 255.0
        if pi == "MONOCHROME1":
            y = 255.0 - y
        return np.clip(np.floor(y + 0.5), 0, 255).astype(np.uint8)

    if pi == "PALETTE COLOR":
        out = []
        for colour in ("Red", "Green", "Blue"):
            first, data, max_value = _lut(ds, f"{colour}PaletteColorLookupTableDescriptor",
                                          f"{colour}PaletteColorLookupTableData", signed)
            out.append(_apply_lut(arr.astype(np.float64), first, data) * 255.0 / max_value)
        return np.clip(np.floor(np.stack(out, axis=-1) + 0.5), 0, 255).astype(np.uint8)

    bits_stored = int(ds.get("BitsStored", 8))
    rgb = arr.astype(np.float64)
    if bits_stored != 8:
        rgb = rgb * 255.0 / float(2**bits_stored - 1)
    if pi.startswith("YBR_FULL"):
        rgb = convert_color_space(np.clip(np.floor(rgb + 0.5), 0, 255).astype(np.uint8), "YBR_FULL", "RGB")
        return rgb.astype(np.uint8)
    return np.clip(np.floor(rgb + 0.5), 0, 255).astype(np.uint8)
