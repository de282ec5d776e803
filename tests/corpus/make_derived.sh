#!/usr/bin/env bash
# Makes the DICOM variants the pydicom set lacks (transfer syntaxes, display variants, liberal encodings) from its real
# files, with DCMTK and GDCM tools and pydicom only: never hand-written bytes.
# Usage: make_derived.sh OUTDIR
set -euo pipefail
out=${1:?usage: make_derived.sh OUTDIR}
rm -rf "$out"
src=/usr/lib/python3/dist-packages/pydicom/data/test_files
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
cd "$out"

# Transfer syntaxes from a 16-bit MR and a signed CT.
dcmcjpeg -q +el "$src/MR_small.dcm" jpeg_lossless_p14_mr.dcm          # process 14, selection value 1..7
dcmcjpeg +e1 "$src/CT_small.dcm" jpeg_lossless_sv1_ct.dcm          # process 14, SV1
dcmdjpeg "$src/JPGExtended.dcm" nm_12bit_unsigned.dcm             # a real 12-bit unsigned NM image
dcmcjpeg +ee nm_12bit_unsigned.dcm jpeg_extended_12bit_nm.dcm      # extended (12-bit)
dcmcjpls +en nm_12bit_unsigned.dcm jpegls_near_lossless_nm.dcm     # JPEG-LS near-lossless, NEAR 2
dcmcjpls +en "$src/image_dfl.dcm" jpegls_near_lossless_8bit.dcm
dcmcjpls +el "$src/CT_small.dcm" jpegls_lossless_ct.dcm
gdcmconv --j2k "$src/CT_small.dcm" j2k_lossless_ct.dcm
gdcmconv --j2k --lossy -q 30 "$src/MR_small.dcm" j2k_lossy_mr.dcm
dcmcjpeg +eb "$src/image_dfl.dcm" jpeg_baseline_8bit.dcm           # deflated source, 8-bit
dcmconv +tb "$src/CT_small.dcm" explicit_big_endian_ct.dcm        # big endian, signed

# Display variants (pydicom): MONOCHROME1, VOI LUT sequence, several windows, VOI functions,
# palette colour, padding.
/usr/bin/python3 "$here/make_display_variants.py" "$src" "$out"
# Encodings other readers accept: command-group elements, a meta header that says explicit VR
# over implicit data, no preamble, no meta header, a stray delimiter after a J2K fragment.
/usr/bin/python3 "$here/make_liberal_variants.py" "$src" "$out"
ls "$out" | wc -l | xargs echo "derived files:"
