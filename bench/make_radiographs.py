#!/usr/bin/python3
"""Makes large radiograph-like DICOM files (DX, 3000 x 2500, 12-14 bits) from real images of
the pydicom test set: each source image is upscaled (bicubic), given detector-like noise so the
lossless codecs see realistic entropy, and written with new UIDs, uncompressed. make_data.sh
then compresses copies with DCMTK (JPEG lossless SV1) and GDCM (JPEG 2000 lossless).
Usage: make_radiographs.py OUTDIR COUNT
"""
import sys

import numpy as np
import pydicom
from PIL import Image
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

SRC = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
SOURCES = ["CT_small.dcm", "MR_small.dcm", "693_J2KI.dcm", "JPEG2000.dcm"]
ROWS, COLS = 3000, 2500

out, count = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(1234)
for i in range(count):
    name = SOURCES[i % len(SOURCES)]
    src = pydicom.dcmread(f"{SRC}/{name}")
    arr = src.pixel_array.astype(np.float32)
    arr = (arr - arr.min()) / max(1e-6, float(arr.max() - arr.min()))
    big = np.asarray(Image.fromarray(arr, mode="F").resize((COLS, ROWS), Image.BICUBIC))
    bits = 12 if i % 2 == 0 else 14
    top = 2**bits - 1
    big = np.clip(big * top * 0.9 + top * 0.05 + rng.normal(0, top * 0.004, big.shape), 0, top).astype(np.uint16)

    ds = pydicom.Dataset()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray, for presentation
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "DX"
    ds.Rows, ds.Columns = ROWS, COLS
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME1" if i % 4 == 3 else "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits, bits - 1
    ds.PixelRepresentation = 0
    ds.WindowCenter, ds.WindowWidth = top // 2, int(top * 0.8)
    ds.PixelData = big.tobytes()
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(f"{out}/dx_{i:03d}.dcm", write_like_original=False)
