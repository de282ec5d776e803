"""Writes real pydicom test files in the encodings other readers (DCMTK, pydicom) accept and a
strict reader refuses (see make_derived.sh): eden reads them too, with a warning where it
skipped something. pydicom's own writer and byte surgery on its output; no hand-written data."""
import io
import struct
import sys

import pydicom
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

src, out = sys.argv[1], sys.argv[2]


def load(name):
    ds = pydicom.dcmread(f"{src}/{name}")
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def meta_end(raw):
    """Offset of the first data set element after the preamble, DICM and the meta group."""
    pos = 132
    while struct.unpack("<H", raw[pos:pos + 2])[0] == 0x0002:
        vr = raw[pos + 4:pos + 6]
        if vr in (b"OB", b"OW", b"UN", b"SQ", b"UT", b"UC", b"UR"):
            pos += 12 + struct.unpack("<I", raw[pos + 8:pos + 12])[0]
        else:
            pos += 8 + struct.unpack("<H", raw[pos + 6:pos + 8])[0]
    return pos


def saved(ds):
    bio = io.BytesIO()
    ds.save_as(bio, write_like_original=False)
    return bio.getvalue()


# Command-group elements left in a stored data set (pydicom writes group 0000 implicit VR).
ds = load("CT_small.dcm")
ds.add_new(0x00000000, "UL", 0)
ds.add_new(0x00000002, "UI", ds.SOPClassUID)
ds.save_as(f"{out}/command_group_in_dataset_ct.dcm")

# A meta header that declares explicit VR over an implicit-VR data set.
ds = load("CT_small.dcm")
ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
raw = saved(ds)
meta = ds.file_meta
meta.TransferSyntaxUID = ExplicitVRLittleEndian
mb = DicomBytesIO()
write_file_meta_info(mb, meta, enforce_standard=True)
open(f"{out}/meta_explicit_over_implicit_ct.dcm", "wb").write(raw[:132] + mb.getvalue() + raw[meta_end(raw):])

# Part 10 without the 128-byte preamble and DICM, and a bare data set without a meta header.
raw = saved(load("MR_small.dcm"))
open(f"{out}/no_preamble_mr.dcm", "wb").write(raw[132:])
ds = load("MR_small.dcm")
fp = DicomBytesIO()
fp.is_little_endian, fp.is_implicit_VR = True, True
del ds.file_meta
write_dataset(fp, ds)
open(f"{out}/no_meta_header_mr.dcm", "wb").write(fp.getvalue())

# A JPEG 2000 file whose encapsulated pixel data has a stray sequence delimiter after its last
# fragment (before the real one).
raw = open(f"{src}/J2K_pixelrep_mismatch.dcm", "rb").read()
end = raw.rfind(b"\xfe\xff\xdd\xe0\x00\x00\x00\x00")
assert end > 0
open(f"{out}/j2k_stray_delimiter.dcm", "wb").write(raw[:end] + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00" + raw[end:])
