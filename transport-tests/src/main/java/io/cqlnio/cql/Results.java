package io.cqlnio.cql;

import io.cqlnio.cql.CqlResult.ColumnSpec;
import io.cqlnio.cql.CqlResult.ColumnType;

import java.util.ArrayList;
import java.util.List;

/** Decodes RESULT bodies (spec section 4.2.5) into {@link CqlResult}s. */
final class Results {

    private Results() {
    }

    /** Decodes a RESULT body of protocol {@code version}. */
    static CqlResult decode(int version, Frames.Reader r) {
        return decode(version, r, null);
    }

    /**
     * Decodes a RESULT body; rows sent without metadata (the request asked to skip it) take
     * {@code preparedColumns}, the prepared statement's result columns, when their count matches.
     */
    static CqlResult decode(int version, Frames.Reader r, List<ColumnSpec> preparedColumns) {
        int kind = r.readInt();
        switch (kind) {
            case 0x0001:
                return new CqlResult.Void();
            case 0x0002:
                return decodeRows(version, r, preparedColumns);
            case 0x0003:
                return new CqlResult.SetKeyspace(r.readString());
            case 0x0004:
                return decodePrepared(version, r);
            case 0x0005:
                return decodeSchemaChange(r);
            default:
                throw new IllegalArgumentException("unknown RESULT kind 0x" + Integer.toHexString(kind));
        }
    }

    private static CqlResult.Rows decodeRows(int version, Frames.Reader r, List<ColumnSpec> preparedColumns) {
        Metadata m = Metadata.decode(version, r, false);
        if (m.withoutMetadata && preparedColumns != null && preparedColumns.size() == m.columns.size()) {
            m = new Metadata(preparedColumns, m.pagingState, false);
        }
        int count = r.readInt();
        if (count < 0) {
            throw new IllegalArgumentException("malformed Rows: negative row count " + count);
        }
        int columns = m.columns.size();
        List<List<Object>> rows = new ArrayList<>(Math.min(count, 1 << 16));
        for (int i = 0; i < count; i++) {
            List<Object> row = new ArrayList<>(columns);
            for (int c = 0; c < columns; c++) {
                row.add(Values.deserialize(m.columns.get(c).type(), r.readBytes()));
            }
            rows.add(row);
        }
        return new CqlResult.Rows(m.columns, rows, m.pagingState);
    }

    private static CqlResult.Prepared decodePrepared(int version, Frames.Reader r) {
        byte[] id = r.readShortBytes();
        byte[] resultMetadataId = version >= 5 ? r.readShortBytes() : new byte[0];
        Metadata variables = Metadata.decode(version, r, true);
        Metadata result = Metadata.decode(version, r, false);
        return new CqlResult.Prepared(id, resultMetadataId, variables.columns, result.columns);
    }

    private static CqlResult.SchemaChange decodeSchemaChange(Frames.Reader r) {
        String change = r.readString();
        String target = r.readString();
        String keyspace = r.readString();
        String name = null;
        if (!"KEYSPACE".equals(target)) {
            name = r.readString();
            if ("FUNCTION".equals(target) || "AGGREGATE".equals(target)) {
                r.readStringList();   // argument types: not needed here
            }
        }
        return new CqlResult.SchemaChange(change, target, keyspace, name);
    }

    /** Rows metadata (4.2.5.2) and prepared metadata (4.2.5.4) share this layout but for the pk indices. */
    static final class Metadata {
        private static final int GLOBAL_TABLES_SPEC = 0x0001;
        private static final int HAS_MORE_PAGES = 0x0002;
        private static final int NO_METADATA = 0x0004;
        private static final int METADATA_CHANGED = 0x0008;

        final List<ColumnSpec> columns;
        final byte[] pagingState;
        /** The server sent only the column count (NO_METADATA): {@link #columns} are placeholders. */
        final boolean withoutMetadata;

        private Metadata(List<ColumnSpec> columns, byte[] pagingState, boolean withoutMetadata) {
            this.columns = columns;
            this.pagingState = pagingState;
            this.withoutMetadata = withoutMetadata;
        }

        static Metadata decode(int version, Frames.Reader r, boolean prepared) {
            int flags = r.readInt();
            int count = r.readInt();
            if (count < 0) {
                throw new IllegalArgumentException("malformed metadata: negative column count " + count);
            }
            if (prepared) {
                int pkCount = r.readInt();
                r.skip(2 * Math.max(pkCount, 0), "pk indices");
            }
            byte[] paging = null;
            if (!prepared && (flags & HAS_MORE_PAGES) != 0) {
                paging = r.readBytes();
            }
            if (!prepared && version >= 5 && (flags & METADATA_CHANGED) != 0) {
                r.readShortBytes();   // new result metadata id
            }
            List<ColumnSpec> columns = new ArrayList<>(count);
            if ((flags & NO_METADATA) != 0) {
                // Only the count is known; values still decode, as raw bytes.
                for (int i = 0; i < count; i++) {
                    columns.add(new ColumnSpec(null, null, "col" + i, ColumnType.of(Values.BLOB)));
                }
                return new Metadata(columns, paging, true);
            }
            String ks = null;
            String table = null;
            boolean global = (flags & GLOBAL_TABLES_SPEC) != 0;
            if (global && count > 0) {
                ks = r.readString();
                table = r.readString();
            }
            for (int i = 0; i < count; i++) {
                String cks = global ? ks : r.readString();
                String ctable = global ? table : r.readString();
                columns.add(new ColumnSpec(cks, ctable, r.readString(), readType(r)));
            }
            return new Metadata(columns, paging, false);
        }

        static ColumnType readType(Frames.Reader r) {
            int id = r.readUnsignedShort();
            switch (id) {
                case Values.CUSTOM:
                    return new ColumnType(id, r.readString(), List.of());
                case Values.LIST:
                case Values.SET:
                    return new ColumnType(id, null, List.of(readType(r)));
                case Values.MAP:
                    return new ColumnType(id, null, List.of(readType(r), readType(r)));
                case Values.UDT: {
                    r.readString();   // keyspace
                    r.readString();   // type name
                    int n = r.readUnsignedShort();
                    List<ColumnType> fields = new ArrayList<>(n);
                    for (int i = 0; i < n; i++) {
                        r.readString();
                        fields.add(readType(r));
                    }
                    return new ColumnType(id, null, fields);
                }
                case Values.TUPLE: {
                    int n = r.readUnsignedShort();
                    List<ColumnType> elements = new ArrayList<>(n);
                    for (int i = 0; i < n; i++) {
                        elements.add(readType(r));
                    }
                    return new ColumnType(id, null, elements);
                }
                default:
                    return ColumnType.of(id);
            }
        }
    }
}
