package io.cqlnio.v5;

import io.cqlnio.frame.Segments;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;

/**
 * A blocking socket that speaks the CQL handshake and v5 segments byte by byte, with no transport in between:
 * what the server sends is read exactly as it arrived, so tests can pin it (golden vectors) or look at what the
 * server does with bytes a broken client sends. Every read is bounded by the socket timeout.
 */
final class RawV5Socket implements AutoCloseable {

    static final int OPTIONS = 0x05;
    static final int STARTUP = 0x01;
    static final int QUERY = 0x07;

    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;

    RawV5Socket(InetSocketAddress node, int readTimeoutMillis) throws IOException {
        socket = new Socket();
        socket.connect(node, readTimeoutMillis);
        socket.setSoTimeout(readTimeoutMillis);
        socket.setTcpNoDelay(true);
        in = new DataInputStream(socket.getInputStream());
        out = socket.getOutputStream();
    }

    /** A request frame: 9-byte header ({@code version} without the response bit, {@code flags}) and body. */
    static byte[] frame(int version, int flags, int stream, int opcode, byte[] body) {
        return ByteBuffer.allocate(9 + body.length).put((byte) version).put((byte) flags).putShort((short) stream)
                .put((byte) opcode).putInt(body.length).put(body).array();
    }

    /** STARTUP's body: {CQL_VERSION: 3.0.0}. */
    static byte[] startupBody() {
        byte[] k = "CQL_VERSION".getBytes(StandardCharsets.US_ASCII);
        byte[] v = "3.0.0".getBytes(StandardCharsets.US_ASCII);
        return ByteBuffer.allocate(2 + 2 + k.length + 2 + v.length).putShort((short) 1).putShort((short) k.length)
                .put(k).putShort((short) v.length).put(v).array();
    }

    /** STARTUP's body: {CQL_VERSION: 3.0.0, COMPRESSION: {@code compression}}, in that order. */
    static byte[] startupBody(String compression) {
        byte[] k1 = "CQL_VERSION".getBytes(StandardCharsets.US_ASCII);
        byte[] v1 = "3.0.0".getBytes(StandardCharsets.US_ASCII);
        byte[] k2 = "COMPRESSION".getBytes(StandardCharsets.US_ASCII);
        byte[] v2 = compression.getBytes(StandardCharsets.US_ASCII);
        return ByteBuffer.allocate(2 + 8 + k1.length + v1.length + k2.length + v2.length).putShort((short) 2)
                .putShort((short) k1.length).put(k1).putShort((short) v1.length).put(v1)
                .putShort((short) k2.length).put(k2).putShort((short) v2.length).put(v2).array();
    }

    /** QUERY's body: the CQL text, consistency ONE, v5's 4-byte flags 0 (no values). */
    static byte[] queryBodyV5(String cql) {
        byte[] text = cql.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(4 + text.length + 2 + 4).putInt(text.length).put(text).putShort((short) 1)
                .putInt(0).array();
    }

    /** One self-contained segment around {@code payload}, checksums from {@link Segments}. */
    static byte[] segment(byte[] payload, boolean selfContained) {
        ByteBuffer b = ByteBuffer.allocate(Segments.HEADER_LENGTH + payload.length + Segments.TRAILER_LENGTH);
        Segments.writeHeader(b, 0, payload.length, selfContained);
        b.position(Segments.HEADER_LENGTH);
        b.put(payload);
        CRC32 crc = Segments.newCrc32();
        crc.update(payload);
        Segments.writeTrailer(b, b.position(), (int) crc.getValue());
        return b.array();
    }

    void send(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** One whole unwrapped frame, header included. */
    byte[] readFrame() throws IOException {
        byte[] header = new byte[9];
        in.readFully(header);
        int length = ByteBuffer.wrap(header).getInt(5);
        byte[] frame = new byte[9 + length];
        System.arraycopy(header, 0, frame, 0, 9);
        in.readFully(frame, 9, length);
        return frame;
    }

    /** One whole segment exactly as it arrived: header, payload, trailer. The length is read unchecked. */
    byte[] readSegment() throws IOException {
        byte[] header = new byte[Segments.HEADER_LENGTH];
        in.readFully(header);
        int length = (header[0] & 0xff) | (header[1] & 0xff) << 8 | (header[2] & 0x01) << 16;
        byte[] segment = new byte[Segments.HEADER_LENGTH + length + Segments.TRAILER_LENGTH];
        System.arraycopy(header, 0, segment, 0, header.length);
        in.readFully(segment, header.length, segment.length - header.length);
        return segment;
    }

    /**
     * One whole LZ4 segment ({@code io.cqlnio.frame.Lz4Segments}) exactly as it arrived: 8-byte header, payload
     * (compressed or stored), trailer. The compressed length is read unchecked.
     */
    byte[] readLz4Segment() throws IOException {
        byte[] header = new byte[8];
        in.readFully(header);
        int length = (header[0] & 0xff) | (header[1] & 0xff) << 8 | (header[2] & 0x01) << 16;
        byte[] segment = new byte[8 + length + Segments.TRAILER_LENGTH];
        System.arraycopy(header, 0, segment, 0, header.length);
        in.readFully(segment, header.length, segment.length - header.length);
        return segment;
    }

    /**
     * What the server does next: every byte it sends until it closes the connection (returned, EOF seen) or
     * until nothing arrives within the socket timeout ({@code null}: the connection is still open).
     */
    byte[] readUntilClosed() throws IOException {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        byte[] buf = new byte[4096];
        try {
            for (int n; (n = in.read(buf)) >= 0; ) {
                got.write(buf, 0, n);
            }
            return got.toByteArray();
        } catch (SocketTimeoutException stillOpen) {
            return null;
        } catch (IOException reset) {
            // A reset is a close too; what arrived before it is the answer.
            return got.toByteArray();
        }
    }

    /** STARTUP in {@code version}; returns the answer frame (READY: the last unwrapped frame in v5). */
    byte[] startup(int version) throws IOException {
        send(frame(version, 0, 0, STARTUP, startupBody()));
        return readFrame();
    }

    /** STARTUP in {@code version} asking for {@code compression}; returns the answer frame, itself unwrapped. */
    byte[] startup(int version, String compression) throws IOException {
        send(frame(version, 0, 0, STARTUP, startupBody(compression)));
        return readFrame();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }

    static String hex(byte[] bytes) {
        StringBuilder sb = new StringBuilder(bytes.length * 2);
        for (byte b : bytes) {
            sb.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
        }
        return sb.toString();
    }

    static byte[] unhex(String hex) {
        byte[] b = new byte[hex.length() / 2];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) Integer.parseInt(hex, 2 * i, 2 * i + 2, 16);
        }
        return b;
    }
}
