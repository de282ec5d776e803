#include "deid/dcmtk_deidentifier.h"

#include <algorithm>
#include <cstring>
#include <mutex>

#include <dcmtk/config/osconfig.h>  // Must come first among DCMTK headers.
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/oflog/oflog.h>
#include <fmt/format.h>

#include "deid/values.h"
#include "dicom/dcmtk_allocation.h"
#include "dicom/decoder.h"
#include "dicom/preflight.h"
#include "digest/digest.h"

namespace eden::deid {
namespace {

void QuietDcmtkOnce() {
  static std::once_flag once;
  // Attribute values must never reach a log: DCMTK's own warnings could carry them.
  std::call_once(once, [] { OFLog::configure(OFLogger::OFF_LOG_LEVEL); });
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  size_t start = 0;
  while (start < s.size() && s[start] == ' ') ++start;
  return s.substr(start);
}

std::string StringOf(DcmElement& e) {
  OFString value;
  if (e.getOFStringArray(value).bad()) return {};
  return Trim(value.c_str());
}

std::string GetString(DcmItem& item, const DcmTagKey& tag) {
  OFString value;
  if (item.findAndGetOFStringArray(tag, value).bad()) return {};
  return Trim(value.c_str());
}

bool IsSequence(DcmElement& e) { return e.ident() == EVR_SQ; }

/// DCMTK's parse of untrusted bytes, with no single allocation larger than the bytes (see
/// dicom::ScopedAllocationCap: DCMTK allocates declared lengths before it reads them).
/// `object` is a whole file (EXS_Unknown: the meta header says) or a bare data set.
/// A whole file may stop before the top-level Pixel Data element (`until_pixel_data`).
OFCondition ReadBounded(DcmObject& object, std::span<const uint8_t> bytes, E_TransferSyntax xfer = EXS_Unknown,
                        bool until_pixel_data = false) {
  DcmInputBufferStream in;
  in.setBuffer(bytes.data(), static_cast<offile_off_t>(bytes.size()));
  in.setEos();
  const dicom::ScopedAllocationCap cap(bytes.size());
  object.transferInit();
  const OFCondition cond = until_pixel_data ? static_cast<DcmFileFormat&>(object).readUntilTag(
                                                  in, xfer, EGL_noChange, DCM_MaxReadLength, DCM_PixelData)
                                            : object.read(in, xfer, EGL_noChange, DCM_MaxReadLength);
  object.transferEnd();
  return cond;
}

/// Class UIDs: not instance identifiers, kept when they are not in the table.
bool IsClassUidTag(const DcmTagKey& t) {
  return t == DCM_SOPClassUID || t == DCM_ReferencedSOPClassUID || t == DCM_MediaStorageSOPClassUID ||
         t == DCM_TransferSyntaxUID || t == DCM_RelatedGeneralSOPClassUID || t == DCM_OriginalSpecializedSOPClassUID ||
         t == DCM_SOPClassesInStudy || t == DCM_CodingSchemeUID || t == DCM_ReferencedSOPClassUIDInFile ||
         t == DCM_ReferencedTransferSyntaxUIDInFile || t == DCM_ImplementationClassUID ||
         t == DCM_ReferencedRelatedGeneralSOPClassUIDInFile;
}

/// The identifiers anywhere in the data set, before anything changes: every PN value, the ids
/// and institution names the report is scrubbed of.
void CollectIdentifiers(DcmItem& item, Identifiers& ids, int depth) {
  if (depth > 32) return;
  for (unsigned long i = 0; i < item.card(); ++i) {
    DcmElement* e = item.getElement(i);
    if (e == nullptr) continue;
    if (IsSequence(*e)) {
      auto* sq = static_cast<DcmSequenceOfItems*>(e);
      for (unsigned long k = 0; k < sq->card(); ++k) CollectIdentifiers(*sq->getItem(k), ids, depth + 1);
      continue;
    }
    const DcmTagKey tag = e->getTag();
    if (e->ident() == EVR_PN) {
      if (std::string v = StringOf(*e); !v.empty()) ids.person_names.push_back(std::move(v));
    } else if (tag == DCM_PatientID || tag == DCM_RETIRED_OtherPatientIDs || tag == DCM_AccessionNumber ||
               tag == DCM_StudyID || tag == DCM_AdmissionID || tag == DCM_IssuerOfPatientID || tag == DCM_StationName ||
               tag == DCM_DeviceSerialNumber || tag == DCM_RequestedProcedureID ||
               tag == DCM_PerformedProcedureStepID || tag == DCM_ScheduledProcedureStepID) {
      if (std::string v = StringOf(*e); !v.empty()) ids.ids.push_back(std::move(v));
    } else if (tag == DCM_InstitutionName || tag == DCM_InstitutionAddress || tag == DCM_InstitutionalDepartmentName) {
      if (std::string v = StringOf(*e); !v.empty()) ids.institutions.push_back(std::move(v));
    }
  }
}

/// Why an image may carry identifying text in its pixels ("" if no sign).
std::string BurnedInReason(DcmDataset& ds) {
  if (GetString(ds, DCM_BurnedInAnnotation) == "YES") return "BurnedInAnnotation is YES";
  const std::string sop_class = GetString(ds, DCM_SOPClassUID);
  if (sop_class.rfind("1.2.840.10008.5.1.4.1.1.7", 0) == 0) return "a secondary capture image";
  if (sop_class == "1.2.840.10008.5.1.4.1.1.88.67" || sop_class == "1.2.840.10008.5.1.4.1.1.88.68")
    return "a dose report";
  const std::string image_type = GetString(ds, DCM_ImageType);
  for (const char* word : {"SCREEN", "SAVE", "REPORT", "DOSE"}) {
    if (image_type.find(word) != std::string::npos) return fmt::format("ImageType contains {}", word);
  }
  const std::string modality = GetString(ds, DCM_Modality);
  if (modality == "US" || sop_class == "1.2.840.10008.5.1.4.1.1.6.1" || sop_class == "1.2.840.10008.5.1.4.1.1.3.1")
    return "an ultrasound image";
  return {};
}

class Editor {
 public:
  Editor(const Config& config, std::optional<int> offset, const Identifiers& ids, Deidentified& out, bool little_endian)
      : config_(config), offset_(offset), ids_(ids), out_(out), little_endian_(little_endian) {}

  /// Applies the profile to every attribute of `item`, recursively.
  void Apply(DcmItem& item, int depth) {
    if (depth > 32) {  // A hostile nesting: nothing below is kept.
      while (item.card() > 0) delete item.remove(0UL);
      return;
    }
    DcmTagKey retyped;
    for (unsigned long i = 0; i < item.card();) {
      DcmElement* e = item.getElement(i);
      if (e->ident() == EVR_UN || e->getTag().getGTag() == 0xFFFE) unusual_ = true;
      if (e->ident() == EVR_UN && (e->getTag().getGTag() & 1u) == 0 && DcmTagKey(e->getTag()) != retyped) {
        retyped = e->getTag();                 // Once per attribute: what is still UN after that Beyond removes.
        if (RetypeUnknown(item, i)) continue;  // The typed element now sits at `i`: edit it.
        e = item.getElement(i);
      }
      const DcmTag& tag = e->getTag();
      bool safe = false;
      if ((tag.getGTag() & 1u) && config_.options.Has(Option::kRetainSafePrivate)) {
        const char* creator = tag.getPrivateCreator();
        const uint16_t element = tag.getETag();
        if (element >= 0x0010 && element <= 0x00FF) {
          safe = true;  // A creator: kept while any of its block may be (harmless text).
        } else if (creator != nullptr) {
          safe = IsSafePrivate(tag.getGTag(), static_cast<uint8_t>(element & 0xFF), creator);
        }
      }
      const Action action = Beyond(*e, ActionFor(tag.getGTag(), tag.getETag(), config_.options, safe));
      if (action == Action::kRemove) {
        delete item.remove(i);
        ++out_.removed;
        continue;
      }
      Edit(*e, action, depth);
      ++i;
    }
  }

 private:
  /// A public attribute the sender encoded as UN (a file written without its dictionary): when
  /// the dictionary gives a text VR, its bytes are the text (in any transfer syntax), so it is
  /// made again with that VR and then edited like any other. True if so.
  ///
  /// A sequence (its value is items in implicit VR little endian, PS3.5 6.2.2) and, in a little
  /// endian file, a binary value (US, SS, UL, SL, FL, FD, AT: the bytes are its little endian
  /// encoding) are made again the same way. What cannot be is left UN, and Beyond removes it.
  bool RetypeUnknown(DcmItem& item, unsigned long i) {
    DcmElement* e = item.getElement(i);
    const DcmTagKey key = e->getTag();
    const DcmTag known(key);  // The dictionary's entry (VR UN if the tag is not in it).
    const DcmEVR vr = known.getVR().getEVR();
    Uint8* data = nullptr;
    std::vector<uint8_t> bytes;
    if (e->getLength() > 0 && e->getUint8Array(data).good() && data != nullptr) {
      bytes.assign(data, data + e->getLength());
    }
    if (known.getVR().isaString() && vr != EVR_UN) {
      delete item.remove(i);
      const std::string text = Trim(std::string(bytes.begin(), bytes.end()));
      if (item.putAndInsertString(key, text.c_str()).bad()) item.putAndInsertString(key, "");
      return true;
    }
    if (vr == EVR_SQ) {
      // Read as a one-element implicit VR little endian data set: tag, length, the items.
      std::vector<uint8_t> wrapped;
      const auto put16 = [&](uint16_t v) { wrapped.insert(wrapped.end(), {uint8_t(v & 0xFF), uint8_t(v >> 8)}); };
      put16(key.getGroup());
      put16(key.getElement());
      const auto length = static_cast<uint32_t>(bytes.size());
      for (int b = 0; b < 4; ++b) wrapped.push_back(static_cast<uint8_t>(length >> (8 * b)));
      wrapped.insert(wrapped.end(), bytes.begin(), bytes.end());
      DcmDataset parsed;
      const OFCondition cond = ReadBounded(parsed, wrapped, EXS_LittleEndianImplicit);
      DcmElement* sq = nullptr;
      if (cond.bad() || parsed.findAndGetElement(key, sq).bad() || sq == nullptr || !IsSequence(*sq)) return false;
      delete item.remove(i);
      sq = parsed.remove(key);
      if (sq != nullptr && item.insert(sq, OFTrue).bad()) delete sq;
      return true;
    }
    const size_t width = vr == EVR_US || vr == EVR_SS                                   ? 2
                         : vr == EVR_UL || vr == EVR_SL || vr == EVR_FL || vr == EVR_AT ? 4
                         : vr == EVR_FD                                                 ? 8
                                                                                        : 0;
    if (!little_endian_ || width == 0 || bytes.size() % width != 0) return false;
    delete item.remove(i);
    if (item.insertEmptyElement(key).bad()) return true;
    DcmElement* typed = nullptr;
    if (item.findAndGetElement(key, typed).bad() || typed == nullptr) return true;
    auto le = [&](size_t at, size_t n) {
      uint64_t v = 0;
      for (size_t b = 0; b < n; ++b) v |= uint64_t{bytes[at + b]} << (8 * b);
      return v;
    };
    for (unsigned long k = 0; k < bytes.size() / width; ++k) {
      const size_t at = k * width;
      OFCondition put = EC_Normal;
      switch (vr) {
        case EVR_US:
          put = typed->putUint16(static_cast<Uint16>(le(at, 2)), k);
          break;
        case EVR_SS:
          put = typed->putSint16(static_cast<Sint16>(static_cast<Uint16>(le(at, 2))), k);
          break;
        case EVR_UL:
          put = typed->putUint32(static_cast<Uint32>(le(at, 4)), k);
          break;
        case EVR_SL:
          put = typed->putSint32(static_cast<Sint32>(static_cast<Uint32>(le(at, 4))), k);
          break;
        case EVR_FL: {
          const auto raw = static_cast<uint32_t>(le(at, 4));
          Float32 f;
          std::memcpy(&f, &raw, sizeof f);
          put = typed->putFloat32(f, k);
          break;
        }
        case EVR_FD: {
          const uint64_t raw = le(at, 8);
          Float64 f;
          std::memcpy(&f, &raw, sizeof f);
          put = typed->putFloat64(f, k);
          break;
        }
        case EVR_AT:
          put = typed->putTagVal(DcmTagKey(static_cast<Uint16>(le(at, 2)), static_cast<Uint16>(le(at + 2, 2))), k);
          break;
        default:
          break;
      }
      if (put.bad()) {
        delete item.remove(typed);
        return true;
      }
    }
    return true;
  }

  /// eden's rules beyond Table E.1-1 (which the standard calls a minimum): a date or date-time,
  /// or a person's name, that the table does not name is treated as the table treats dates and
  /// names (InstanceCreationDate, for one, is not in it).
  /// And an attribute whose value eden cannot read as text (VR UN: a public sequence the sender
  /// encoded as unknown, an unknown tag) is removed, not kept unexamined.
  Action Beyond(DcmElement& e, Action action) {
    const DcmEVR vr = e.ident();
    // UN left after RetypeUnknown: a sequence, a binary value or an unknown tag. Only a binary
    // value the table keeps stays (numbers: Rows, Bits Allocated...); the rest goes.
    if (vr == EVR_UN && (e.getTag().getGTag() & 1u) == 0) {
      const DcmEVR known = DcmTag(e.getTag()).getVR().getEVR();
      const bool binary = known != EVR_UN && known != EVR_SQ && known != EVR_UNKNOWN && known != EVR_UNKNOWN2B;
      return binary && action == Action::kKeep ? Action::kKeep : Action::kRemove;
    }
    if (action != Action::kKeep || (e.getTag().getGTag() & 1u)) return action;
    if (vr != EVR_DA && vr != EVR_DT && vr != EVR_PN) return action;
    if (FindRule(e.getTag().getGTag(), e.getTag().getETag()) != nullptr) return action;
    if (vr == EVR_PN) return Action::kZero;
    return offset_ ? Action::kClean : Action::kRemove;
  }

  void Edit(DcmElement& e, Action action, int depth) {
    const DcmTagKey tag = e.getTag();
    if (IsSequence(e)) {
      auto& sq = static_cast<DcmSequenceOfItems&>(e);
      if (action == Action::kZero || action == Action::kDummy) {
        sq.clear();
        ++out_.replaced;
      } else {
        for (unsigned long k = 0; k < sq.card(); ++k) Apply(*sq.getItem(k), depth + 1);
      }
      return;
    }
    const DcmEVR vr = e.ident();
    const std::string vr_name = DcmVR(vr).getVRName();
    switch (action) {
      case Action::kRemove:
        return;
      case Action::kZero:
        Zero(e);
        return;
      case Action::kDummy: {
        std::string dummy = vr == EVR_UI ? config_.key.MapUid(StringOf(e)) : DummyValue(vr_name);
        if (dummy.empty())
          Zero(e);
        else
          Put(e, dummy);
        return;
      }
      case Action::kUid:
        MapUids(e);
        return;
      case Action::kClean:
        Clean(e, vr, vr_name);
        return;
      case Action::kKeep:
        if (vr == EVR_UI && !IsClassUidTag(tag)) {
          // A UID the table does not name: an instance UID unless it is the standard's own.
          const std::string v = StringOf(e);
          if (!v.empty() && v.rfind("1.2.840.10008.", 0) != 0) MapUids(e);
        }
        return;
    }
  }

  void Zero(DcmElement& e) {
    e.clear();
    ++out_.replaced;
  }
  void Put(DcmElement& e, const std::string& value) {
    if (e.putString(value.c_str()).bad()) e.clear();
    ++out_.replaced;
  }

  void MapUids(DcmElement& e) {
    const std::string value = StringOf(e);
    if (value.empty()) return;
    std::string mapped;
    size_t start = 0;
    while (true) {
      const size_t end = value.find('\\', start);
      const std::string uid = Trim(value.substr(start, end == std::string::npos ? std::string::npos : end - start));
      if (!mapped.empty() || start > 0) mapped += '\\';
      mapped += uid.empty() ? std::string() : config_.key.MapUid(uid);
      if (end == std::string::npos) break;
      start = end + 1;
    }
    Put(e, mapped);
  }

  void Clean(DcmElement& e, DcmEVR vr, const std::string& vr_name) {
    const std::string value = StringOf(e);
    if (value.empty()) return;
    if (vr == EVR_DA || vr == EVR_DT) {
      std::optional<std::string> shifted;
      if (offset_) shifted = vr == EVR_DA ? ShiftDate(value, *offset_) : ShiftDateTime(value, *offset_);
      if (shifted)
        Put(e, *shifted);
      else
        Zero(e);
      return;
    }
    if (vr == EVR_TM) return;  // Times of day stay; only whole days move.
    if (e.getTag() == DCM_TimezoneOffsetFromUTC) {
      // Kept only as what it must be ("+HHMM" / "-HHMM"): it is cleaned, not scrubbed as prose.
      const bool valid = value.size() == 5 && (value[0] == '+' || value[0] == '-') &&
                         std::all_of(value.begin() + 1, value.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (!valid) Zero(e);
      return;
    }
    if (vr == EVR_LO || vr == EVR_SH || vr == EVR_LT || vr == EVR_ST || vr == EVR_UT || vr == EVR_UC || vr == EVR_PN ||
        vr == EVR_CS) {
      Scrubbed s = ScrubText(value, ids_, offset_);
      if (s.replacements > 0) Put(e, s.text);
      return;
    }
    (void)vr_name;
    Zero(e);  // A value eden cannot clean is not kept.
  }

  const Config& config_;
  std::optional<int> offset_;
  const Identifiers& ids_;
  Deidentified& out_;
  bool little_endian_;    ///< The file's transfer syntax: binary UN values can be read.
  bool unusual_ = false;  ///< UN-encoded or delimitation-group elements were met.

 public:
  /// True if the data set held anything a well-formed file does not (then Apply checks what it
  /// wrote before handing it out).
  bool unusual() const { return unusual_; }
};

void AddMethod(DcmDataset& ds, const Options& options, bool dates_modified) {
  ds.putAndInsertString(DCM_PatientIdentityRemoved, "YES");
  std::string method;
  for (const std::string& v : MethodDescription(options)) method += (method.empty() ? "" : "\\") + v;
  ds.putAndInsertString(DCM_DeidentificationMethod, method.c_str());
  ds.findAndDeleteElement(DCM_DeidentificationMethodCodeSequence);
  for (const Code& code : MethodCodes(options)) {
    DcmItem* item = nullptr;
    if (ds.findOrCreateSequenceItem(DCM_DeidentificationMethodCodeSequence, item, -2).bad() || item == nullptr)
      continue;
    item->putAndInsertString(DCM_CodeValue, std::string(code.value).c_str());
    item->putAndInsertString(DCM_CodingSchemeDesignator, "DCM");
    item->putAndInsertString(DCM_CodeMeaning, std::string(code.meaning).c_str());
  }
  ds.putAndInsertString(DCM_LongitudinalTemporalInformationModified, dates_modified ? "MODIFIED" : "REMOVED");
}

Result<Bytes> Write(DcmFileFormat& file) {
  DcmDataset& ds = *file.getDataset();
  E_TransferSyntax xfer = ds.getOriginalXfer();
  if (xfer == EXS_Unknown) xfer = EXS_LittleEndianExplicit;
  std::vector<uint8_t> chunk(size_t{1} << 20);
  DcmOutputBufferStream out(chunk.data(), static_cast<offile_off_t>(chunk.size()));
  Bytes bytes;
  file.transferInit();
  OFCondition cond = EC_StreamNotifyClient;
  while (cond == EC_StreamNotifyClient) {
    cond = file.write(out, xfer, EET_ExplicitLength, nullptr, EGL_recalcGL, EPD_noChange, 0, 0, 0, EWM_updateMeta);
    void* buffer = nullptr;
    offile_off_t length = 0;
    out.flushBuffer(buffer, length);
    AppendTo(bytes, std::span<const uint8_t>(static_cast<const uint8_t*>(buffer), static_cast<size_t>(length)));
  }
  file.transferEnd();
  if (cond.bad())
    return Fail(ErrorCode::kMalformed, fmt::format("cannot write the de-identified file: {}", cond.text()));
  out.flush();
  void* buffer = nullptr;
  offile_off_t length = 0;
  out.flushBuffer(buffer, length);
  AppendTo(bytes, std::span<const uint8_t>(static_cast<const uint8_t*>(buffer), static_cast<size_t>(length)));
  return bytes;
}

class DcmtkDeidentifier final : public Deidentifier {
 public:
  explicit DcmtkDeidentifier(std::shared_ptr<const Config> config) : config_(std::move(config)) { QuietDcmtkOnce(); }

  Result<Deidentified> Apply(std::span<const uint8_t> dicom) override {
    // The same walk the decoder makes first: every declared length must fit in the bytes, so
    // DCMTK (which allocates a value's declared length before reading it) stays bounded by the
    // input's size on hostile files. A deflated data set could inflate without bound: refused.
    // Part 10 only (what `eden run` downloads): the meta header names the transfer syntax, so
    // DCMTK and the preflight read the same encoding (a bare data set's would be guessed).
    if (!dicom::LooksLikePart10(dicom)) {
      return Fail(ErrorCode::kNotDicom, "not a DICOM Part 10 file (no DICM marker): not de-identified");
    }
    auto pre = dicom::PreflightCheck(dicom);
    if (!pre) return Fail(pre.error());
    if (!pre->strip.empty()) {
      return Fail(ErrorCode::kMalformed, "command-group (0000,xxxx) elements inside the data set: not de-identified");
    }
    if (pre->deflated) {
      return Fail(ErrorCode::kUnsupported, "a deflated data set is not de-identified (and so not stored)");
    }
    DcmFileFormat file;
    {
      const OFCondition cond = ReadBounded(file, dicom);
      if (cond.bad()) {
        return Fail(
            cond == EC_StreamNotifyClient || cond == EC_EndOfStream ? ErrorCode::kTruncated : ErrorCode::kMalformed,
            fmt::format("the DICOM file cannot be parsed for de-identification: {}", cond.text()));
      }
    }
    DcmDataset& ds = *file.getDataset();
    const Config& config = *config_;
    Deidentified out;
    CollectIdentifiers(ds, out.identifiers, 0);
    out.burned_in = BurnedInReason(ds);
    out.exclude = !out.burned_in.empty() && !config_->keep_burned_in;

    // The patient: Patient ID with its issuer; else the name; else the study (then a patient's
    // studies cannot be linked, and each study gets its own offset).
    std::string patient = GetString(ds, DCM_PatientID);
    if (!patient.empty()) {
      patient = GetString(ds, DCM_IssuerOfPatientID) + "|" + patient;
    } else if (patient = GetString(ds, DCM_PatientName); !patient.empty()) {
      patient = "name|" + patient;
    } else {
      patient = "study|" + GetString(ds, DCM_StudyInstanceUID);
    }
    out.patient = config.key.PatientPseudonym(patient);
    if (config.options.Has(Option::kRetainModifiedDates)) out.date_offset = config.key.DateOffsetDays(patient);

    Editor editor(config, out.date_offset, out.identifiers, out, !pre->big_endian);
    editor.Apply(ds, 0);
    // The pseudonym, then the marks of de-identification.
    ds.putAndInsertString(DCM_PatientID, out.patient.c_str());
    ds.putAndInsertString(DCM_PatientName, out.patient.c_str());
    AddMethod(ds, config.options, out.date_offset.has_value());
    out.sop_instance_uid = GetString(ds, DCM_SOPInstanceUID);
    // The file meta header: its SOP Instance UID is the data set's new one (or, when the data set
    // has none, the keyed map of its own); the source's application entity titles and private
    // information go. DCMTK keeps a meta value the data set does not supply.
    DcmMetaInfo& meta = *file.getMetaInfo();
    // Elements outside group 0002 in the meta header: removed.
    for (unsigned long k = 0; k < meta.card();) {
      if (meta.getElement(k)->getGTag() != 0x0002) {
        delete meta.remove(k);
      } else {
        ++k;
      }
    }
    const std::string meta_sop = GetString(meta, DCM_MediaStorageSOPInstanceUID);
    if (!out.sop_instance_uid.empty()) {
      meta.putAndInsertString(DCM_MediaStorageSOPInstanceUID, out.sop_instance_uid.c_str());
    } else {
      // No SOP Instance UID anywhere: DCMTK would invent a random one; a keyed one of the
      // source's bytes keeps "same key, same file".
      const std::string basis = meta_sop.empty() ? "file:" + digest::Sha256Hex(dicom) : meta_sop;
      meta.putAndInsertString(DCM_MediaStorageSOPInstanceUID, config.key.MapUid(basis).c_str());
    }
    for (const DcmTagKey& tag :
         {DCM_SourceApplicationEntityTitle, DCM_SendingApplicationEntityTitle, DCM_ReceivingApplicationEntityTitle,
          DCM_PrivateInformationCreatorUID, DCM_PrivateInformation}) {
      delete meta.remove(tag);
    }
    auto bytes = Write(file);
    if (!bytes) return Fail(bytes.error());
    out.dicom = std::move(*bytes);
    // Always: the structure eden wrote walks clean (cheap: element headers only).
    if (auto walk = dicom::PreflightCheck(out.dicom); !walk) {
      return Fail(ErrorCode::kMalformed,
                  fmt::format("the de-identified file is not well formed ({}): not stored", walk.error().message()));
    }
    {
      // Read back and checked, every file: what DCMTK writes of a malformed input may parse
      // differently from what was edited (the fuzzer found UN, delimitation-group and broken
      // UID values that did), and nothing leaves unexamined.
      if (auto findings = CheckDicomFile(out.dicom); !findings.empty()) {
        return Fail(ErrorCode::kMalformed,
                    fmt::format("the de-identified file does not check clean ({}): not stored", findings.front()));
      }
    }
    return out;
  }

 private:
  std::shared_ptr<const Config> config_;
};

}  // namespace

namespace {

class Checker {
 public:
  Checker(const Options& options, std::vector<std::string>& found) : options_(options), found_(found) {}

  void Check(DcmItem& item, const std::string& where, int depth) {
    if (depth > 32) return;
    for (unsigned long i = 0; i < item.card(); ++i) {
      DcmElement* e = item.getElement(i);
      DcmTag tag = e->getTag();
      const std::string at = fmt::format("{}({:04X},{:04X}) {}", where, tag.getGTag(), tag.getETag(), tag.getTagName());
      if (tag.getGTag() & 1u) {
        const char* creator = tag.getPrivateCreator();
        const bool creator_element = tag.getETag() >= 0x0010 && tag.getETag() <= 0x00FF;
        const bool safe =
            options_.Has(Option::kRetainSafePrivate) &&
            (creator_element ||
             (creator != nullptr && IsSafePrivate(tag.getGTag(), static_cast<uint8_t>(tag.getETag() & 0xFF), creator)));
        if (!safe) found_.push_back(at + ": a private attribute");
        continue;
      }
      if (e->ident() == EVR_UN) {
        found_.push_back(at + ": encoded as UN (not examined)");
        continue;
      }
      const Action action = ActionFor(tag.getGTag(), tag.getETag(), options_, false);
      const std::string value = IsSequence(*e) ? std::string() : StringOf(*e);
      switch (action) {
        case Action::kRemove:
          found_.push_back(at + ": present, the profile removes it");
          continue;
        case Action::kZero:
        case Action::kDummy:
          if (IsSequence(*e)) {
            if (static_cast<DcmSequenceOfItems*>(e)->card() > 0)
              found_.push_back(at + ": a sequence the profile empties has items");
          } else if (!value.empty() && !IsPseudonym(tag, value) && value != DummyValue(DcmVR(e->ident()).getVRName()) &&
                     !(e->ident() == EVR_UI && value.rfind("2.25.", 0) == 0)) {
            found_.push_back(at + ": a value the profile empties or replaces by a dummy");
          }
          continue;
        case Action::kUid:
          if (!IsSequence(*e)) {
            if (!value.empty() && !AllKeyed(value)) found_.push_back(at + ": a UID that was not replaced");
            continue;
          }
          break;
        case Action::kKeep:
        case Action::kClean:
          if (!IsSequence(*e) && FindRule(tag.getGTag(), tag.getETag()) == nullptr && !value.empty()) {
            if (e->ident() == EVR_PN) found_.push_back(at + ": a person name the table does not list");
            if ((e->ident() == EVR_DA || e->ident() == EVR_DT) && !options_.Has(Option::kRetainModifiedDates))
              found_.push_back(at + ": a date the table does not list, dates not retained");
          }
          break;
      }
      if (IsSequence(*e)) {
        auto* sq = static_cast<DcmSequenceOfItems*>(e);
        for (unsigned long k = 0; k < sq->card(); ++k)
          Check(*sq->getItem(k), at + "[" + std::to_string(k) + "] ", depth + 1);
      }
    }
  }

 private:
  static bool IsPseudonym(const DcmTagKey& tag, const std::string& value) {
    return (tag == DCM_PatientID || tag == DCM_PatientName) && value.rfind("EDEN-", 0) == 0 && value.size() == 21;
  }
  static bool AllKeyed(const std::string& value) {
    size_t start = 0;
    while (true) {
      const size_t end = value.find('\\', start);
      if (value.compare(start, 5, "2.25.") != 0) return false;
      if (end == std::string::npos) return true;
      start = end + 1;
    }
  }

  const Options& options_;
  std::vector<std::string>& found_;
};

}  // namespace

std::vector<std::string> CheckDicomFile(std::span<const uint8_t> dicom) {
  QuietDcmtkOnce();
  auto pre = dicom::PreflightCheck(dicom);
  if (!pre) return {"does not parse as DICOM: " + pre.error().message()};
  // Pixel Data is not examined; when nothing follows it, the parse stops before it (no copy of
  // a radiograph's pixels into DCMTK just to look at its header).
  bool pixels_last = false;
  if (pre->pixel_data && !pre->deflated) {
    const auto& loc = *pre->pixel_data;
    if (loc.length != 0xFFFFFFFFu) {
      pixels_last = loc.offset + loc.length == dicom.size();
    } else if (!loc.items.empty()) {
      const auto& [offset, length] = loc.items.back();
      pixels_last = offset + length + 8 == dicom.size();  // Then the sequence delimiter, last.
    }
  }
  DcmFileFormat file;
  const OFCondition cond = ReadBounded(file, dicom, EXS_Unknown, pixels_last);
  if (cond.bad()) return {fmt::format("does not parse as DICOM: {}", cond.text())};
  DcmDataset& ds = *file.getDataset();
  std::vector<std::string> found;
  if (GetString(ds, DCM_PatientIdentityRemoved) != "YES") found.push_back("Patient Identity Removed is not YES");
  // The options the file says were applied: De-identification Method's values after eden's two.
  std::vector<std::string> names;
  OFString method;
  for (unsigned long k = 2; ds.findAndGetOFString(DCM_DeidentificationMethod, method, k).good(); ++k)
    names.emplace_back(method.c_str());
  auto options = ParseOptions(names);
  if (!options) {
    found.push_back("De-identification Method names options this eden does not know");
    options = Options();
  }
  Checker(*options, found).Check(ds, "", 0);
  const std::string meta_sop = GetString(*file.getMetaInfo(), DCM_MediaStorageSOPInstanceUID);
  if (!meta_sop.empty() && meta_sop.rfind("2.25.", 0) != 0)
    found.push_back("the file meta header holds an original SOP Instance UID");
  return found;
}

std::unique_ptr<Deidentifier> MakeDcmtkDeidentifier(std::shared_ptr<const Config> config) {
  return std::make_unique<DcmtkDeidentifier>(std::move(config));
}

}  // namespace eden::deid
