package io.cqlnio.cql;

import java.util.List;

/**
 * A RESULT response (spec section 4.2.5), one record per kind. Rows hold decoded Java values: Integer, Long,
 * String, Boolean, Double, Float, Short, Byte, UUID, and byte[] for blobs and every type not mapped.
 */
public sealed interface CqlResult {

    /** Kind 0x0001: the statement returned nothing (INSERT, UPDATE, ...). */
    record Void() implements CqlResult {
    }

    /**
     * Kind 0x0002.
     *
     * @param columns     the result columns, in order
     * @param rows        one list of values per row, in column order
     * @param pagingState non-null when more pages exist (this client does not ask for pages, so rarely)
     */
    record Rows(List<ColumnSpec> columns, List<List<Object>> rows, byte[] pagingState) implements CqlResult {
        /** The value of column {@code name} in row {@code row}. */
        public Object value(int row, String name) {
            for (int i = 0; i < columns.size(); i++) {
                if (columns.get(i).name().equals(name)) {
                    return rows.get(row).get(i);
                }
            }
            throw new IllegalArgumentException("no column " + name + " in " + columns);
        }
    }

    /** Kind 0x0003: the keyspace now in use on the connection. */
    record SetKeyspace(String keyspace) implements CqlResult {
    }

    /**
     * Kind 0x0004: a prepared statement, to pass to {@link CqlClient#execute}.
     *
     * @param id               the statement id
     * @param resultMetadataId v5 only (empty below v5)
     * @param variables        the bind markers
     * @param resultColumns    the columns its rows will have (empty when it returns none)
     */
    record Prepared(byte[] id, byte[] resultMetadataId, List<ColumnSpec> variables, List<ColumnSpec> resultColumns)
            implements CqlResult {
    }

    /** Kind 0x0005: e.g. {@code CREATED TABLE ks.t}. */
    record SchemaChange(String changeType, String target, String keyspace, String name) implements CqlResult {
    }

    /** One column: where it comes from, its name and its type. */
    record ColumnSpec(String keyspace, String table, String name, ColumnType type) {
    }

    /** A type option: its id (e.g. 0x0009 int) and, for collections, tuples and UDTs, its parameter types. */
    record ColumnType(int id, String customClass, List<ColumnType> parameters) {
        /** A type without parameters. */
        public static ColumnType of(int id) {
            return new ColumnType(id, null, List.of());
        }
    }
}
