/*
 * src/pg/row_hash.cpp
 *
 * See upkeep/pg/row_hash.hpp.
 */
#include <cmath>
#include <cstring>

#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/row_hash.hpp"

extern "C" {
#include "access/transam.h"
#include "catalog/pg_type.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
}

namespace upkeep::pg {

namespace {

RowHasher::Kind KindOf(Oid type);

/*
 * Arrays of built-in element types whose own encoding is binary: the array's
 * bytes (header with the element type's fixed OID, dimensions, null bitmap,
 * zero-padded data) are the same wherever the same array is stored.
 */
bool
BinaryArray(Oid base) {
	Oid elem = get_element_type(base);
	if (!OidIsValid(elem) || elem >= FirstGenbkiObjectId)
		return false;
	RowHasher::Kind k = KindOf(elem);
	return k == RowHasher::kFixedInt || k == RowHasher::kVarlena || k == RowHasher::kFloat4 ||
	       k == RowHasher::kFloat8;
}

RowHasher::Kind
KindOf(Oid type) {
	const Oid base = getBaseType(type);
	if (BinaryArray(base))
		return RowHasher::kVarlena;
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

int
PinFingerprintSettings() {
	return PgCall([] {
		int nest = NewGUCNestLevel();
		const char *settings[][2] = {{"DateStyle", "ISO, YMD"}, {"IntervalStyle", "postgres"}, {"TimeZone", "UTC"},
		                             {"extra_float_digits", "1"}, {"bytea_output", "hex"}};
		for (auto &s : settings)
			(void)set_config_option(s[0], s[1], PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		return nest;
	});
}

void
UnpinFingerprintSettings(int nest_level) {
	PgCall([&] { AtEOXact_GUC(true, nest_level); });
}

} // namespace upkeep::pg
