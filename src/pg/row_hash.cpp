/*
 * src/pg/row_hash.cpp
 *
 * See upkeep/pg/row_hash.hpp.
 */
#include <cmath>
#include <cstring>

#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/row_hash.hpp"
#include "upkeep/pg/setting.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/transam.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
}

namespace upkeep::pg {

namespace {

RowHasher::Kind KindOf(Oid type);

/*
 * Arrays of built-in element types whose own encoding is binary: the array's
 * bytes (header with the element type's fixed OID, dimensions, null bitmap,
 * zero-padded data) are the same wherever the same array is stored -- except
 * for NaNs, which come in many bit patterns (a computed NaN is not the one
 * float8in makes of 'NaN' on restore): arrays of floats fold them
 * (HashFloatArray).  Returns the kind of such an array, or kTextOut.
 */
RowHasher::Kind
BinaryArray(Oid base) {
	Oid elem = get_element_type(base);
	if (!OidIsValid(elem) || elem >= FirstGenbkiObjectId)
		return RowHasher::kTextOut;
	switch (KindOf(elem)) {
	case RowHasher::kFixedInt:
	case RowHasher::kVarlena:
		return RowHasher::kVarlena;
	case RowHasher::kFloat4:
		return RowHasher::kFloat4Array;
	case RowHasher::kFloat8:
		return RowHasher::kFloat8Array;
	default:
		return RowHasher::kTextOut;
	}
}

RowHasher::Kind
KindOf(Oid type) {
	const Oid base = getBaseType(type);
	if (RowHasher::Kind array = BinaryArray(base); array != RowHasher::kTextOut)
		return array;
	switch (base) {
	case INT2OID:
	case INT4OID:
	case INT8OID:
	case OIDOID:
	case BOOLOID:
	case DATEOID:
	case TIMEOID:
	case TIMESTAMPOID:
	case TIMESTAMPTZOID:
	case CASHOID:
	case CHAROID:
		return RowHasher::kFixedInt;
	case FLOAT4OID:
		return RowHasher::kFloat4;
	case FLOAT8OID:
		return RowHasher::kFloat8;
	case TEXTOID:
	case VARCHAROID:
	case BPCHAROID:
	case BYTEAOID:
	case NUMERICOID:
	case JSONBOID:
	case JSONOID:
	case UUIDOID:
	case INETOID:
	case CIDROID:
	case MACADDROID:
	case MACADDR8OID:
		return RowHasher::kVarlena;
	case NAMEOID:
		return RowHasher::kName;
	default:
		return RowHasher::kTextOut;
	}
}

/*
 * The bytes of a float4[] / float8[] (as kVarlena hashes them), with every
 * NaN element replaced by the canonical quiet NaN of float4/float8 input --
 * the bits 'NaN' reads back as on restore, so arrays stored with that NaN
 * keep the hash they always had.  C-style (detoasting may ereport).
 */
template <typename Float, typename Bits>
void
HashFloatArray(core::RowEncoder &enc, uint32 pos, Datum d, Bits canonical) {
	ArrayType *a = DatumGetArrayTypeP(d); /* detoasted, 4-byte header: the same bytes as the packed form's */
	const char *bytes = VARDATA(a);
	const size_t len = VARSIZE(a) - VARHDRSZ;
	const int nitems = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
	const bits8 *bitmap = ARR_NULLBITMAP(a);
	int ndata = 0;
	for (int i = 0; i < nitems; i++)
		if (bitmap == NULL || (bitmap[i / 8] & (1 << (i % 8))))
			ndata++;
	/* float4/float8 elements are stored back to back (length == alignment) after the header */
	const size_t offset = ARR_DATA_PTR(a) - (char *)a;
	char *copy = NULL;
	for (int i = 0; i < ndata; i++) {
		const size_t at = offset + i * sizeof(Float);
		Float f;
		memcpy(&f, (const char *)a + at, sizeof(Float));
		if (!std::isnan(f))
			continue;
		if (copy == NULL) {
			copy = (char *)palloc(VARSIZE(a));
			memcpy(copy, a, VARSIZE(a));
			bytes = VARDATA(copy);
		}
		memcpy(copy + at, &canonical, sizeof(Float));
	}
	enc.AddValue(pos, core::RowEncoder::kBinary, bytes, len);
	if (copy != NULL)
		pfree(copy);
	if ((Pointer)a != DatumGetPointer(d))
		pfree(a);
}

} // namespace

RowHasher::RowHasher(TupleDesc desc, const std::vector<int> &attnums) {
	cols_.resize(attnums.size());
	for (size_t i = 0; i < attnums.size(); i++) {
		Col &c = cols_[i];
		c.attnum = attnums[i];
		PgCall([&] {
			Form_pg_attribute att = TupleDescAttr(desc, c.attnum - 1);
			c.typlen = att->attlen;
			c.kind = KindOf(att->atttypid);
			if (c.kind == kFixedInt && !(att->attbyval && c.typlen > 0 && c.typlen <= 8))
				c.kind = kTextOut;
			if (c.kind == kVarlena && c.typlen == -2)
				c.kind = kTextOut;
			if (c.kind == kTextOut) {
				Oid outfunc;
				bool isvarlena;
				getTypeOutputInfo(att->atttypid, &outfunc, &isvarlena);
				fmgr_info(outfunc, &c.out);
			}
		});
	}
	enc_.Begin();
}

core::Hash128
RowHasher::HashRow(const Datum *values, const bool *nulls) {
	enc_.Begin();
	for (size_t i = 0; i < cols_.size(); i++) {
		const Col &c = cols_[i];
		const uint32 pos = static_cast<uint32>(i + 1);
		const int idx = c.attnum - 1;
		if (nulls[idx]) {
			enc_.AddNull(pos);
			continue;
		}
		const Datum d = values[idx];
		switch (c.kind) {
		case kFixedInt: {
			uint64 v;
			switch (c.typlen) {
			case 1:
				v = (uint64)(uint8)DatumGetChar(d);
				break;
			case 2:
				v = (uint64)(uint16)DatumGetInt16(d);
				break;
			case 4:
				v = (uint64)(uint32)DatumGetInt32(d);
				break;
			default:
				v = (uint64)DatumGetInt64(d);
				break;
			}
			unsigned char b[8];
			core::StoreLittleEndian(b, v, (size_t)c.typlen);
			enc_.AddValue(pos, core::RowEncoder::kBinary, b, (size_t)c.typlen);
			break;
		}
		case kFloat4: {
			float4 f = DatumGetFloat4(d);
			uint32 bits;
			if (std::isnan(f))
				bits = 0x7fc00000u;
			else
				memcpy(&bits, &f, 4);
			unsigned char b[4];
			core::StoreLittleEndian(b, bits, 4);
			enc_.AddValue(pos, core::RowEncoder::kBinary, b, 4);
			break;
		}
		case kFloat8: {
			float8 f = DatumGetFloat8(d);
			uint64 bits;
			if (std::isnan(f))
				bits = 0x7ff8000000000000ull;
			else
				memcpy(&bits, &f, 8);
			unsigned char b[8];
			core::StoreLittleEndian(b, bits, 8);
			enc_.AddValue(pos, core::RowEncoder::kBinary, b, 8);
			break;
		}
		case kVarlena: {
			if (c.typlen > 0) { /* fixed-width by reference (uuid, macaddr) */
				enc_.AddValue(pos, core::RowEncoder::kBinary, DatumGetPointer(d), (size_t)c.typlen);
				break;
			}
			struct varlena *raw = (struct varlena *)DatumGetPointer(d);
			/* pg_detoast_datum_packed, without a call for the plain in-line values most rows hold */
			struct varlena *v =
			    (VARATT_IS_COMPRESSED(raw) || VARATT_IS_EXTERNAL(raw)) ? pg_detoast_datum_packed(raw) : raw;
			enc_.AddValue(pos, core::RowEncoder::kBinary, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
			if (v != raw)
				pfree(v);
			break;
		}
		case kFloat4Array:
			HashFloatArray<float4, uint32>(enc_, pos, d, 0x7fc00000u);
			break;
		case kFloat8Array:
			HashFloatArray<float8, uint64>(enc_, pos, d, 0x7ff8000000000000ull);
			break;
		case kName: {
			const char *s = NameStr(*DatumGetName(d));
			enc_.AddValue(pos, core::RowEncoder::kBinary, s, strlen(s));
			break;
		}
		case kTextOut: {
			char *s = OutputFunctionCall(const_cast<FmgrInfo *>(&c.out), d);
			enc_.AddValue(pos, core::RowEncoder::kText, s, strlen(s));
			pfree(s);
			break;
		}
		}
	}
	return enc_.Finish();
}

namespace {
const char *const kFingerprintSettings[][2] = {{"DateStyle", "ISO, YMD"},
                                               {"IntervalStyle", "postgres"},
                                               {"TimeZone", "UTC"},
                                               {"extra_float_digits", "1"},
                                               {"bytea_output", "hex"},
                                               /* the text of regclass, regtype, regproc ... names schemas by it */
                                               {"search_path", "pg_catalog, pg_temp"}};
} // namespace

core::Hash128
RowHasher::HashValues(const Datum *values, const bool *nulls, MemoryContext scratch) {
	if (scratch == NULL)
		return HashRow(values, nulls);
	MemoryContext outer = MemoryContextSwitchTo(scratch);
	const core::Hash128 h = HashRow(values, nulls);
	MemoryContextSwitchTo(outer);
	MemoryContextReset(scratch);
	return h;
}

core::Hash128
RowHasher::HashSlot(TupleTableSlot *slot, MemoryContext scratch) {
	slot_getallattrs(slot);
	return HashValues(slot->tts_values, slot->tts_isnull, scratch);
}

core::Hash128
RowHasher::HashTuple(HeapTuple tuple, TupleDesc desc, Datum *values, bool *nulls, MemoryContext scratch) {
	heap_deform_tuple(tuple, desc, values, nulls);
	return HashValues(values, nulls, scratch);
}

bool
RowHasher::UsesTextOutput() const {
	for (const Col &c : cols_)
		if (c.kind == kTextOut)
			return true;
	return false;
}

bool
FingerprintSettingsInForce() {
	for (auto &s : kFingerprintSettings) {
		const char *now = GetConfigOption(s[0], true, false);
		if (now == NULL || strcmp(now, s[1]) != 0)
			return false;
	}
	return true;
}

int
PinFingerprintSettings() {
	return PgCall([] {
		int nest = NewGUCNestLevel();
		for (auto &s : kFingerprintSettings)
			SetForLevel(s[0], s[1]);
		return nest;
	});
}

void
UnpinFingerprintSettings(int nest_level) {
	PgCall([&] { AtEOXact_GUC(true, nest_level); });
}

} // namespace upkeep::pg
