// De-identification: the profile table and its resolution, the keyed replacements, date
// shifting, free-text scrubbing, and the DCMTK editor on real files from pydicom's corpus.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <string>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dctk.h>
#include <gtest/gtest.h>

#include "deid/check.h"
#include "deid/dcmtk_deidentifier.h"
#include "deid/key.h"
#include "deid/profile.h"
#include "deid/scrub.h"
#include "deid/values.h"

namespace eden::deid {
namespace {

Key TestKey(char digit = '1') { return *Key::Parse(std::string(64, digit)); }

std::vector<uint8_t> ReadCorpus(const std::string& name) {
  std::ifstream in(std::string(PYDICOM_TEST_FILES) + "/" + name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

bool Contains(std::span<const uint8_t> bytes, std::string_view needle) {
  return std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end()) != bytes.end();
}

// --- the table ------------------------------------------------------------------------------

TEST(Profile, TheGeneratedTableHasEveryRowOfTableE11) {
  EXPECT_EQ(Rules().size(), 441u);
  const Rule* name = FindRule(0x0010, 0x0010);
  ASSERT_NE(name, nullptr);
  EXPECT_STREQ(name->name, "PatientsName");
  EXPECT_STREQ(name->basic, "Z");
  const Rule* overlay = FindRule(0x6002, 0x3000);  // A repeating group matches its 60xx row.
  ASSERT_NE(overlay, nullptr);
  EXPECT_STREQ(overlay->name, "OverlayData");
  EXPECT_EQ(FindRule(0x0028, 0x0010), nullptr);  // Rows: not an identifier.
}

TEST(Profile, BasicActions) {
  const Options basic;
  EXPECT_EQ(ActionFor(0x0010, 0x0010, basic), Action::kZero);    // Patient's Name
  EXPECT_EQ(ActionFor(0x0010, 0x0030, basic), Action::kZero);    // Patient's Birth Date
  EXPECT_EQ(ActionFor(0x0008, 0x0050, basic), Action::kZero);    // Accession Number
  EXPECT_EQ(ActionFor(0x0020, 0x000D, basic), Action::kUid);     // Study Instance UID
  EXPECT_EQ(ActionFor(0x0008, 0x1155, basic), Action::kUid);     // Referenced SOP Instance UID
  EXPECT_EQ(ActionFor(0x0008, 0x0080, basic), Action::kDummy);   // Institution Name (X/Z/D)
  EXPECT_EQ(ActionFor(0x0008, 0x1030, basic), Action::kRemove);  // Study Description
  EXPECT_EQ(ActionFor(0x0010, 0x1010, basic), Action::kRemove);  // Patient's Age
  EXPECT_EQ(ActionFor(0x0009, 0x1001, basic), Action::kRemove);  // Private
  EXPECT_EQ(ActionFor(0x0029, 0x0010, basic), Action::kRemove);  // Private creator
  EXPECT_EQ(ActionFor(0x6000, 0x0010, basic), Action::kRemove);  // Overlay rows
  EXPECT_EQ(ActionFor(0x5000, 0x0005, basic), Action::kRemove);  // Curve
  EXPECT_EQ(ActionFor(0x0028, 0x0010, basic), Action::kKeep);    // Rows
  EXPECT_EQ(ActionFor(0x7FE0, 0x0010, basic), Action::kKeep);    // Pixel Data
}

TEST(Profile, OptionsReplaceTheBasicAction) {
  Options o;
  o.Set(Option::kRetainModifiedDates).Set(Option::kRetainPatientCharacteristics);
  EXPECT_EQ(ActionFor(0x0008, 0x0020, o), Action::kClean);  // Study Date: shifted
  EXPECT_EQ(ActionFor(0x0010, 0x0040, o), Action::kKeep);   // Patient's Sex
  EXPECT_EQ(ActionFor(0x0010, 0x1010, o), Action::kKeep);   // Patient's Age
  EXPECT_EQ(ActionFor(0x0010, 0x0010, o), Action::kZero);   // The name stays out.
  Options inst;
  inst.Set(Option::kRetainInstitutionIdentity);
  EXPECT_EQ(ActionFor(0x0008, 0x0080, inst), Action::kKeep);
  Options desc;
  desc.Set(Option::kCleanDescriptors);
  EXPECT_EQ(ActionFor(0x0008, 0x1030, desc), Action::kClean);
  Options safe;
  safe.Set(Option::kRetainSafePrivate);
  EXPECT_EQ(ActionFor(0x0009, 0x1001, safe, /*safe_private=*/false), Action::kRemove);
  EXPECT_EQ(ActionFor(0x0009, 0x1001, safe, /*safe_private=*/true), Action::kKeep);
  EXPECT_TRUE(IsSafePrivate(0x7053, 0x00, "Philips PET Private Group"));
  EXPECT_FALSE(IsSafePrivate(0x7053, 0x00, "SOMEONE ELSE"));
}

TEST(Profile, CompoundCodesKeepAnyIodValidAndNeverKeepTheValue) {
  EXPECT_EQ(Resolve("X/Z", true), Action::kZero);
  EXPECT_EQ(Resolve("X/D", true), Action::kDummy);
  EXPECT_EQ(Resolve("X/Z/D", true), Action::kDummy);
  EXPECT_EQ(Resolve("Z/D", true), Action::kDummy);
  EXPECT_EQ(Resolve("X/Z/U", true), Action::kUid);
  EXPECT_EQ(Resolve("X/Z", false), Action::kRemove);
  EXPECT_EQ(Resolve("X/Z/D", false), Action::kRemove);
  // No row of the table resolves to K under the basic profile.
  for (const Rule& r : Rules()) EXPECT_NE(Resolve(r.basic, r.in_std_iod), Action::kKeep) << r.name;
}

TEST(Profile, OptionNamesParseAndUnknownOnesAreRefusedWithTheList) {
  auto o = ParseOptions({"retain-modified-dates", "clean-descriptors"});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->Names(), (std::vector<std::string>{"retain-modified-dates", "clean-descriptors"}));
  auto bad = ParseOptions({"retain-everything"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("retain-device-identity"), std::string::npos);
  const auto codes = MethodCodes(*o);
  ASSERT_EQ(codes.size(), 3u);
  EXPECT_EQ(codes[0].value, "113100");
  EXPECT_EQ(codes[1].value, "113105");
  EXPECT_EQ(codes[2].value, "113107");
  for (const std::string& v : MethodDescription(*o)) EXPECT_LE(v.size(), 64u);
}

// --- the key ------------------------------------------------------------------------------

TEST(Key, ParsesOnlySixtyFourHexDigitsAndNeverEchoesTheText) {
  EXPECT_TRUE(Key::Parse(std::string(64, 'a') + "\n"));
  const std::string secret = std::string(63, 'b');
  auto short_key = Key::Parse(secret);
  ASSERT_FALSE(short_key);
  EXPECT_EQ(short_key.error().message().find(secret), std::string::npos);
  EXPECT_FALSE(Key::Parse(std::string(62, 'a') + "zz"));
  auto made = Key::Generate();
  ASSERT_TRUE(made);
  EXPECT_EQ(made->Hex().size(), 64u);
  EXPECT_NE(made->Hex(), Key::Generate()->Hex());
  auto again = Key::Parse(made->Hex());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->Fingerprint(), made->Fingerprint());
  EXPECT_EQ(made->Fingerprint().find(made->Hex().substr(0, 16)), std::string::npos);
}

TEST(Key, UidsAreKeyedConsistentAndValid) {
  const Key a = TestKey('1'), b = TestKey('2');
  const std::string uid = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322";
  const std::string mapped = a.MapUid(uid);
  EXPECT_EQ(mapped, a.MapUid(uid));  // Same key, same UID: every run, every worker.
  EXPECT_NE(mapped, b.MapUid(uid));
  EXPECT_NE(mapped, a.MapUid(uid + "1"));
  EXPECT_EQ(mapped.rfind("2.25.", 0), 0u);
  EXPECT_LE(mapped.size(), 64u);
  const std::string digits = mapped.substr(5);
  EXPECT_TRUE(std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }));
  EXPECT_NE(digits.front(), '0');
}

TEST(Key, DateOffsetsArePerPatientAndWithinTenYears) {
  const Key k = TestKey();
  std::set<int> seen;
  for (int p = 0; p < 200; ++p) {
    const int d = k.DateOffsetDays("patient-" + std::to_string(p));
    EXPECT_GE(d, -3652);
    EXPECT_LE(d, -1);
    EXPECT_EQ(d, k.DateOffsetDays("patient-" + std::to_string(p)));
    seen.insert(d);
  }
  EXPECT_GT(seen.size(), 150u);  // Offsets spread: not one shift for everyone.
  EXPECT_EQ(k.PatientPseudonym("x"), k.PatientPseudonym("x"));
  EXPECT_NE(k.PatientPseudonym("x"), k.PatientPseudonym("y"));
}

// --- values -------------------------------------------------------------------------------

TEST(Values, DatesShiftByWholeDays) {
  EXPECT_EQ(ShiftDate("20200301", -1), "20200229");
  EXPECT_EQ(ShiftDate("20210101", -365), "20200102");
  EXPECT_EQ(ShiftDate("2004.01.19", -19), "20031231");
  EXPECT_EQ(ShiftDate("20040119\\20040120", -1), "20040118\\20040119");
  EXPECT_EQ(ShiftDate("20041319", -1), std::nullopt);
  EXPECT_EQ(ShiftDate("2004", -1), std::nullopt);
  EXPECT_EQ(ShiftDateTime("20040119072730.123+0100", -19), "20031231072730.123+0100");
  EXPECT_EQ(ShiftDateTime("200401", -1), std::nullopt);
  EXPECT_EQ(DummyValue("DA"), "19000101");
  EXPECT_EQ(DummyValue("PN"), "ANONYMIZED");
  EXPECT_EQ(DummyValue("OB"), "");
}

// --- scrubbing ----------------------------------------------------------------------------

Identifiers SomeIds() {
  Identifiers ids;
  ids.person_names = {"Doe^John^Quincy^Dr", "WELBY^MARCUS"};
  ids.ids = {"MRN0042", "ACC-7781"};
  ids.institutions = {"St Elsewhere Hospital"};
  return ids;
}

TEST(Scrub, NamesIdsAndInstitutionsInAnyOrderAndCase) {
  const auto s = ScrubText(
      "Patient JOHN DOE (Doe, John Q) seen by Dr. Marcus Welby at st elsewhere hospital; id MRN0042, acc ACC-7781.",
      SomeIds(), std::nullopt);
  EXPECT_EQ(s.text,
            "Patient [NAME] [NAME] ([NAME], [NAME] Q) seen by Dr. [NAME] [NAME] at [INSTITUTION]; id [ID], acc [ID].");
  EXPECT_EQ(s.replacements, 9u);
  // Part of a longer word is not a name: "Doering" stays.
  EXPECT_EQ(ScrubText("Doering", SomeIds(), std::nullopt).text, "Doering");
}

TEST(Scrub, DatesAreShiftedWhenRetainedElseReplaced) {
  const Identifiers none;
  EXPECT_EQ(ScrubText("CT on 2021-03-12 and 20210315.", none, std::nullopt).text, "CT on [DATE] and [DATE].");
  EXPECT_EQ(ScrubText("CT on 2021-03-12 and 20210315.", none, -10).text, "CT on 2021-03-02 and 2021-03-05.");
  EXPECT_EQ(ScrubText("seen 12 March 2021, again March 14, 2021", none, -1).text, "seen 2021-03-11, again 2021-03-13");
  EXPECT_EQ(ScrubText("prior 03/04/2021", none, -1).text, "prior [DATE]");  // Order unknown.
  EXPECT_EQ(ScrubText("since March 2021", none, std::nullopt).text, "since [DATE]");
}

TEST(Scrub, ContactsAndLabelledNumbers) {
  const Identifiers none;
  EXPECT_EQ(ScrubText("call +1 (555) 123-4567 or mail jd@example.org.", none, std::nullopt).text,
            "call [PHONE] or mail [EMAIL].");
  EXPECT_EQ(ScrubText("MRN: 12345, Accession No. A-99812, MR# 7", none, std::nullopt).text,
            "MRN: [ID], Accession No. [ID], MR# [ID]");
  // Measurements and ordinary numbers are not identifiers.
  const std::string plain = "A 3.5 x 2.1 cm nodule in segment 7; 120 kVp, 2 mm slices.";
  const auto s = ScrubText(plain, none, std::nullopt);
  EXPECT_EQ(s.text, plain);
  EXPECT_EQ(s.replacements, 0u);
}

// --- the DCMTK editor on real files -------------------------------------------------------

std::unique_ptr<DcmFileFormat> Parse(std::span<const uint8_t> bytes) {
  auto file = std::make_unique<DcmFileFormat>();
  DcmInputBufferStream in;
  in.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
  in.setEos();
  file->transferInit();
  const OFCondition cond = file->read(in, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
  file->transferEnd();
  EXPECT_TRUE(cond.good()) << cond.text();
  return file;
}

std::string Get(DcmItem& item, const DcmTagKey& tag) {
  OFString v;
  item.findAndGetOFStringArray(tag, v);
  return v.c_str();
}

std::shared_ptr<const Config> MakeConfig(Options options = {}, char key_digit = '1') {
  return std::make_shared<const Config>(Config{options, TestKey(key_digit), false});
}

TEST(DcmtkDeidentifier, CtSmallLosesItsIdentityAndKeepsItsPixels) {
  const auto original = ReadCorpus("CT_small.dcm");
  ASSERT_FALSE(original.empty());
  auto before = Parse(original);
  DcmDataset& b = *before->getDataset();
  const std::string name = Get(b, DCM_PatientName), sop = Get(b, DCM_SOPInstanceUID),
                    study = Get(b, DCM_StudyInstanceUID), institution = Get(b, DCM_InstitutionName);
  ASSERT_FALSE(name.empty());
  ASSERT_FALSE(institution.empty());

  auto deid = MakeDcmtkDeidentifier(MakeConfig());
  auto out = deid->Apply(original);
  ASSERT_TRUE(out) << out.error().ToString();
  if (const char* dump = std::getenv("DEID_TEST_DUMP")) {
    std::ofstream(dump, std::ios::binary)
        .write(reinterpret_cast<const char*>(out->dicom.data()), static_cast<std::streamsize>(out->dicom.size()));
  }
  EXPECT_FALSE(Contains(out->dicom, name));
  EXPECT_FALSE(Contains(out->dicom, "CompressedSamples"));
  EXPECT_FALSE(Contains(out->dicom, institution));
  EXPECT_FALSE(Contains(out->dicom, sop));
  EXPECT_FALSE(Contains(out->dicom, study));
  EXPECT_FALSE(Contains(out->dicom, "20040119"));  // Every date of the study.

  auto after = Parse(out->dicom);
  DcmDataset& a = *after->getDataset();
  const Key key = TestKey();
  EXPECT_EQ(Get(a, DCM_SOPInstanceUID), key.MapUid(sop));
  EXPECT_EQ(Get(a, DCM_StudyInstanceUID), key.MapUid(study));
  EXPECT_EQ(Get(*after->getMetaInfo(), DCM_MediaStorageSOPInstanceUID), key.MapUid(sop));
  EXPECT_EQ(Get(a, DCM_PatientID), out->patient);
  EXPECT_EQ(Get(a, DCM_PatientIdentityRemoved), "YES");
  EXPECT_EQ(Get(a, DCM_LongitudinalTemporalInformationModified), "REMOVED");
  EXPECT_EQ(Get(a, DCM_SOPClassUID), Get(b, DCM_SOPClassUID));
  DcmItem* code = nullptr;
  ASSERT_TRUE(a.findAndGetSequenceItem(DCM_DeidentificationMethodCodeSequence, code, 0).good());
  EXPECT_EQ(Get(*code, DCM_CodeValue), "113100");
  // No private attribute survives.
  for (unsigned long i = 0; i < a.card(); ++i) EXPECT_EQ(a.getElement(i)->getGTag() % 2, 0) << i;
  // The pixels are the same bytes.
  const Uint8 *pb = nullptr, *pa = nullptr;
  unsigned long nb = 0, na = 0;
  ASSERT_TRUE(b.findAndGetUint8Array(DCM_PixelData, pb, &nb).good());
  ASSERT_TRUE(a.findAndGetUint8Array(DCM_PixelData, pa, &na).good());
  ASSERT_EQ(na, nb);
  EXPECT_TRUE(std::equal(pa, pa + na, pb));
  // The report scrub gets the header's identifiers.
  EXPECT_FALSE(out->identifiers.person_names.empty());
  EXPECT_TRUE(out->burned_in.empty());
}

TEST(DcmtkDeidentifier, TheSameKeyGivesTheSameFileAndAnotherKeyOtherUids) {
  const auto original = ReadCorpus("MR_small.dcm");
  auto one = MakeDcmtkDeidentifier(MakeConfig())->Apply(original);
  auto two = MakeDcmtkDeidentifier(MakeConfig())->Apply(original);
  auto other = MakeDcmtkDeidentifier(MakeConfig({}, '2'))->Apply(original);
  ASSERT_TRUE(one && two && other);
  EXPECT_TRUE(std::equal(one->dicom.begin(), one->dicom.end(), two->dicom.begin(), two->dicom.end()));
  EXPECT_NE(one->sop_instance_uid, other->sop_instance_uid);
  EXPECT_NE(one->patient, other->patient);
}

TEST(DcmtkDeidentifier, RetainedDatesMoveByThePatientsOffset) {
  Options o;
  o.Set(Option::kRetainModifiedDates);
  auto out = MakeDcmtkDeidentifier(MakeConfig(o))->Apply(ReadCorpus("CT_small.dcm"));
  ASSERT_TRUE(out);
  ASSERT_TRUE(out->date_offset);
  auto after = Parse(out->dicom);
  DcmDataset& a = *after->getDataset();
  EXPECT_EQ(Get(a, DCM_StudyDate), *ShiftDate("20040119", *out->date_offset));
  EXPECT_EQ(Get(a, DCM_LongitudinalTemporalInformationModified), "MODIFIED");
  DcmItem* code = nullptr;
  ASSERT_TRUE(a.findAndGetSequenceItem(DCM_DeidentificationMethodCodeSequence, code, 1).good());
  EXPECT_EQ(Get(*code, DCM_CodeValue), "113107");
}

TEST(DcmtkDeidentifier, SequencesAreDeidentifiedInside) {
  // priv_SQ / nested_priv_SQ: private sequences go whole; rtplan's references keep their
  // consistency: a referenced UID maps as the referenced object's own UID does.
  auto out = MakeDcmtkDeidentifier(MakeConfig())->Apply(ReadCorpus("rtplan.dcm"));
  ASSERT_TRUE(out) << out.error().ToString();
  auto before = Parse(ReadCorpus("rtplan.dcm"));
  auto after = Parse(out->dicom);
  DcmItem *rb = nullptr, *ra = nullptr;
  ASSERT_TRUE(before->getDataset()->findAndGetSequenceItem(DCM_ReferencedStructureSetSequence, rb, 0).good());
  ASSERT_TRUE(after->getDataset()->findAndGetSequenceItem(DCM_ReferencedStructureSetSequence, ra, 0).good());
  const std::string ref = Get(*rb, DCM_ReferencedSOPInstanceUID);
  ASSERT_FALSE(ref.empty());
  EXPECT_EQ(Get(*ra, DCM_ReferencedSOPInstanceUID), TestKey().MapUid(ref));
  EXPECT_FALSE(Contains(out->dicom, ref));
  auto nested = MakeDcmtkDeidentifier(MakeConfig())->Apply(ReadCorpus("nested_priv_SQ.dcm"));
  ASSERT_TRUE(nested) << nested.error().ToString();
  auto n = Parse(nested->dicom);
  for (unsigned long i = 0; i < n->getDataset()->card(); ++i)
    EXPECT_EQ(n->getDataset()->getElement(i)->getGTag() % 2, 0);
}

TEST(DcmtkDeidentifier, AttributesItCannotReadAreRemovedNotKept) {
  // rtdose_rle.dcm holds public attributes encoded as UN, among them a whole
  // ReferencedRTPlanSequence with a UID inside: nothing of it may pass unexamined.
  const auto original = ReadCorpus("rtdose_rle.dcm");
  const std::string uid = "1.2.123.456.78.9.0123.4567.89012345678901";
  ASSERT_TRUE(Contains(original, uid));
  auto out = MakeDcmtkDeidentifier(MakeConfig())->Apply(original);
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_FALSE(Contains(out->dicom, uid));
  // Its table attributes, UN-encoded too, are read with their dictionary VR and then edited:
  // the SOP Instance UID is the keyed one, the name is gone, the file is still whole.
  auto before = Parse(original);
  auto after = Parse(out->dicom);
  DcmElement* sop = nullptr;
  ASSERT_TRUE(before->getDataset()->findAndGetElement(DCM_SOPInstanceUID, sop).good());
  ASSERT_EQ(sop->ident(), EVR_UN);
  Uint8* raw = nullptr;
  ASSERT_TRUE(sop->getUint8Array(raw).good());
  std::string original_sop(reinterpret_cast<const char*>(raw), sop->getLength());
  while (!original_sop.empty() && (original_sop.back() == '\0' || original_sop.back() == ' ')) original_sop.pop_back();
  EXPECT_EQ(Get(*after->getDataset(), DCM_SOPInstanceUID), TestKey().MapUid(original_sop));
  EXPECT_EQ(Get(*after->getMetaInfo(), DCM_MediaStorageSOPInstanceUID), TestKey().MapUid(original_sop));
  EXPECT_FALSE(Contains(out->dicom, "Lastname"));
  EXPECT_FALSE(Contains(out->dicom, "20030805"));  // Study Date
  EXPECT_EQ(Get(*after->getDataset(), DCM_Rows), Get(*before->getDataset(), DCM_Rows));
}

TEST(DcmtkDeidentifier, ImagesThatMayCarryBurnedInTextAreFlagged) {
  auto sc = MakeDcmtkDeidentifier(MakeConfig())->Apply(ReadCorpus("SC_rgb_small_odd.dcm"));
  ASSERT_TRUE(sc);
  EXPECT_EQ(sc->burned_in, "a secondary capture image");
}

TEST(DcmtkDeidentifier, AFileThatDoesNotParseIsAnErrorNotAPartialFile) {
  auto bytes = ReadCorpus("CT_small.dcm");
  bytes.resize(1000);
  auto out = MakeDcmtkDeidentifier(MakeConfig())->Apply(bytes);
  ASSERT_FALSE(out);
  EXPECT_TRUE(out.error().code() == ErrorCode::kTruncated || out.error().code() == ErrorCode::kMalformed);
}

// --- eden deid check ----------------------------------------------------------------------

TEST(Check, EveryFileOfTheCorpusThatDeidentifiesHasNoFindingsAndIsTheSameTwice) {
  // The profile applied is the profile checked, on every real file pydicom ships (and the basic
  // profile with every option, which changes the actions).
  Options all;
  for (Option o : kAllOptions) all.Set(o);
  size_t done = 0;
  for (const auto& options : {Options(), all}) {
    auto deidentifier = MakeDcmtkDeidentifier(MakeConfig(options));
    for (const auto& entry : std::filesystem::directory_iterator(PYDICOM_TEST_FILES)) {
      if (entry.path().extension() != ".dcm") continue;
      std::ifstream in(entry.path(), std::ios::binary);
      const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
      auto out = deidentifier->Apply(bytes);
      if (!out) continue;
      ++done;
      EXPECT_EQ(CheckDicomFile(out->dicom), std::vector<std::string>{}) << entry.path();
      auto again = deidentifier->Apply(bytes);  // Same key, same bytes: nothing random in it.
      ASSERT_TRUE(again);
      EXPECT_TRUE(std::equal(out->dicom.begin(), out->dicom.end(), again->dicom.begin(), again->dicom.end()))
          << entry.path();
    }
  }
  EXPECT_GT(done, 100u);
}

TEST(Check, ADeidentifiedFileHasNoFindingsAndTheOriginalHasMany) {
  const auto original = ReadCorpus("CT_small.dcm");
  auto out = MakeDcmtkDeidentifier(MakeConfig())->Apply(original);
  ASSERT_TRUE(out);
  EXPECT_EQ(CheckDicomFile(out->dicom), std::vector<std::string>{});
  const auto found = CheckDicomFile(original);
  auto has = [&](std::string_view text) {
    return std::any_of(found.begin(), found.end(), [&](const std::string& f) { return f.find(text) != f.npos; });
  };
  EXPECT_TRUE(has("Patient Identity Removed is not YES"));
  EXPECT_TRUE(has("(0010,0010) PatientName: a value the profile empties"));
  EXPECT_TRUE(has("(0008,0018) SOPInstanceUID: a UID that was not replaced"));
  EXPECT_TRUE(has("a private attribute"));
  // Findings name attributes, never their values.
  for (const std::string& f : found) EXPECT_EQ(f.find("CompressedSamples"), std::string::npos) << f;
  // With retain-modified-dates the shifted dates are not findings; without, an unlisted date is.
  Options dates;
  dates.Set(Option::kRetainModifiedDates);
  auto shifted = MakeDcmtkDeidentifier(MakeConfig(dates))->Apply(original);
  ASSERT_TRUE(shifted);
  EXPECT_EQ(CheckDicomFile(shifted->dicom), std::vector<std::string>{});
}

TEST(Check, IdentifiersAreFoundCaseInsensitivelyAndReportedByLine) {
  const std::string text = "report of John DOE, MRN 12345";
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  const auto found = FindIdentifiers(bytes, {"doe", "xy", "99999", "john doe"});
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0], "identifier on line 1 of the list found at byte 15");
  EXPECT_EQ(found[1].rfind("identifier on line 4 of the list", 0), 0u);
}

TEST(Check, JpegSegmentsOtherThanJfifAreFindings) {
  // SOI, APP0 JFIF, COM "hi", APP1 (Exif), SOS.
  const std::vector<uint8_t> jpeg = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I',  'F',  0,    1,
                                     1,    0,    0,    1,    0,    1,    0,   0,   0xFF, 0xFE, 0x00, 0x04,
                                     'h',  'i',  0xFF, 0xE1, 0x00, 0x04, 'E', 'x', 0xFF, 0xDA, 0x00, 0x02};
  const auto found = CheckJpegMarkers(jpeg);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0], "a comment (COM) segment at byte 20");
  EXPECT_EQ(found[1], "an APP1 segment at byte 26 (metadata)");
  const std::vector<uint8_t> clean(jpeg.begin(), jpeg.begin() + 20);
  std::vector<uint8_t> just_jfif = clean;
  just_jfif.insert(just_jfif.end(), {0xFF, 0xDA, 0x00, 0x02});
  EXPECT_TRUE(CheckJpegMarkers(just_jfif).empty());
  EXPECT_EQ(CheckJpegMarkers(std::vector<uint8_t>{'G', 'I', 'F'}).size(), 1u);
}

}  // namespace
}  // namespace eden::deid
