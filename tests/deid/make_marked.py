#!/usr/bin/python3
"""Makes DICOM test files in which every identifier is a unique marker, from real files of
pydicom's corpus (Debian python3-pydicom), for the de-identification leak tests.

For each source file, every attribute of PS3.15 Table E.1-1 (read from src/deid/table_e1_1.inc)
that has a text, date or UID VR is set to a unique value: a marker string (MK + VR + number), a
unique date, or a unique UID; a nested sequence, private elements (a private sequence inside),
an overlay and a curve carry markers too; the file's own study, series and SOP UIDs and the
frame of reference become unique UIDs. A report text per file holds the same names, ids and
dates written the ways reports write them.

    make_marked.py OUT_DIR   ->  OUT_DIR/files/marked-NN.dcm ... and OUT_DIR/manifest.json:
    {"files": [{"file", "report", "study"}], "markers": [every string that must not appear]}
"""
import datetime
import json
import os
import re
import sys

import pydicom
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = "/usr/lib/python3/dist-packages/pydicom/data/test_files"
SOURCES = ["CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "MR_small_RLE.dcm", "JPGExtended.dcm",
           "MR_small_jpeg_ls_lossless.dcm", "ExplVR_BigEnd.dcm", "liver_1frame.dcm"]
TEXT_VRS = {"LO", "LT", "ST", "UT", "UC", "SH", "AE", "CS", "PN", "UR"}
SHORT = {"SH": 16, "AE": 16, "CS": 16}


def table_tags():
    """(group, element) of every exact row of Table E.1-1 (repeating groups handled apart)."""
    text = open(os.path.join(HERE, "..", "..", "src", "deid", "table_e1_1.inc"), encoding="utf-8").read()
    rows = re.findall(r"\{0x([0-9A-F]{4}), 0x([0-9A-F]{4}), 0x([0-9A-F]{4}), 0x([0-9A-F]{4}),", text)
    return [(int(g, 16), int(e, 16)) for g, gm, e, em in rows if gm == "FFFF" and em == "FFFF"]


class Markers:
    def __init__(self):
        self.n = 0
        self.all = []
        self.day = datetime.date(1931, 1, 1)

    def text(self, vr):
        self.n += 1
        value = f"MK{vr}{self.n:05d}"
        self.all.append(value)
        return value

    def person(self):
        self.n += 1
        family, given = f"MKFAM{self.n:05d}", f"MKGIV{self.n:05d}"
        self.all += [family, given]
        return f"{family}^{given}"

    def date(self):
        self.day += datetime.timedelta(days=37)
        value = self.day.strftime("%Y%m%d")
        self.all.append(value)
        return value

    def uid(self):
        self.n += 1
        value = f"1.2.826.0.1.3680043.10.7777.{self.n}"
        self.all.append(value)
        return value


def value_for(vr, m):
    if vr == "PN":
        return m.person()
    if vr == "DA":
        return m.date()
    if vr == "DT":
        return m.date() + "101010"
    if vr == "UI":
        return m.uid()
    if vr == "UR":
        value = m.text("UR")
        return f"http://{value.lower()}.example/"
    if vr in TEXT_VRS:
        return m.text(vr)[:SHORT.get(vr, 64)]
    return None


def mark(ds, m, tags):
    for group, element in tags:
        if group in (0x0000, 0x0002):
            continue  # Command and file meta groups: not in a stored data set.
        tag = (group << 16) | element
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            continue
        if vr == "SQ":
            item = Dataset()
            item.PersonName = m.person()
            item.ReferencedSOPInstanceUID = m.uid()
            item.StudyID = m.text("SH")
            item.InstitutionName = m.text("LO")
            ds.add_new(tag, "SQ", Sequence([item]))
            continue
        value = value_for(vr, m)
        if value is not None:
            ds.add_new(tag, vr, value)
    # A nested sequence two levels down, with a name and a UID.
    inner = Dataset()
    inner.PersonName = m.person()
    inner.ReferencedSOPInstanceUID = m.uid()
    outer = Dataset()
    outer.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    outer.ReferencedSOPInstanceUID = m.uid()
    outer.add_new(0x0040A730, "SQ", Sequence([inner]))  # ContentSequence
    ds.ReferencedImageSequence = Sequence([outer])
    # Private elements, one a sequence.
    ds.add_new(0x00110010, "LO", "MKCREATOR")
    m.all.append("MKCREATOR")
    ds.add_new(0x00111001, "LO", m.text("PRIV"))
    private_item = Dataset()
    private_item.add_new(0x00111002, "LO", m.text("PRIVSQ"))
    ds.add_new(0x00111003, "SQ", Sequence([private_item]))
    # An overlay and a curve (retired, still met in old files).
    ds.add_new(0x60000022, "LO", m.text("OVL"))
    ds.add_new(0x50002500, "LO", m.text("CRV"))
    # The file's own identity, unique.
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = m.uid(), m.uid(), m.uid()
    ds.FrameOfReferenceUID = m.uid()
    ds.BurnedInAnnotation = "NO"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID


def report_for(ds):
    """A report that names what the header names, in the ways reports do."""
    name = ds.PatientName
    family, given = name.family_name, name.given_name
    physician = ds.ReferringPhysicianName
    study = datetime.datetime.strptime(ds.StudyDate, "%Y%m%d").date()
    return (f"Patient {given} {family} ({family.upper()}, {given.lower()}), MRN {ds.PatientID}, "
            f"accession {ds.AccessionNumber}. Seen at {ds.InstitutionName} on {study.isoformat()} "
            f"({study.strftime('%d %B %Y')}, {study.strftime('%B %d, %Y')}, {ds.StudyDate}). "
            f"Referred by Dr. {physician.given_name} {physician.family_name}. Call +1 (555) 010-4477 or "
            f"write to {family.lower()}@hospital.example.org. Medical record number: 88812345.\n"
            "Findings: a 3.5 x 2.1 cm nodule in segment 7; 120 kVp, 2 mm slices.")


def main():
    out_dir = sys.argv[1]
    os.makedirs(os.path.join(out_dir, "files"), exist_ok=True)
    m = Markers()
    tags = table_tags()
    files = []
    for number, name in enumerate(SOURCES):
        ds = pydicom.dcmread(os.path.join(CORPUS, name))
        mark(ds, m, tags)
        # Numbers that reports write on their own: also markers.
        m.all += ["5550104477", "88812345"]
        path = os.path.join(out_dir, "files", f"marked-{number:02d}.dcm")
        ds.save_as(path, write_like_original=False)
        files.append({"file": path, "report": report_for(ds), "study": f"marked-study-{number:02d}"})
    json.dump({"files": files, "markers": sorted(set(m.all))}, open(os.path.join(out_dir, "manifest.json"), "w"),
              indent=1)
    print(f"{len(files)} files, {len(set(m.all))} markers")


if __name__ == "__main__":
    main()
