package io.cqlnio.spi;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The contract's own behaviour: provider lookup by name, config validation and copying, the default codec. */
class SpiTest {

    @Test
    void nioIsFoundByName() {
        assertTrue(Transports.names().contains("nio"), Transports.names().toString());
        try (Transport t = Transports.create("nio", TransportConfig.defaults())) {
            assertTrue(t.getClass().getName().startsWith("io.cqlnio.nio."));
        }
    }

    @Test
    void unknownNameListsWhatWasFound() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Transports.create("carrier-pigeon", TransportConfig.defaults()));
        assertTrue(e.getMessage().contains("carrier-pigeon") && e.getMessage().contains("nio"), e.getMessage());
    }

    @Test
    void defaults() {
        TransportConfig c = TransportConfig.defaults();
        assertEquals(1, c.loops());
        assertEquals(Duration.ofSeconds(5), c.connectTimeout());
        assertTrue(c.tcpNoDelay());
        assertEquals(256 * 1024 * 1024, c.maxFrameLength());
        assertEquals(1024, c.maxBuffersPerWrite());
        assertEquals(CqlFrameCodec.INSTANCE, c.frameCodec());
        assertEquals(c, c.toBuilder().build());
    }

    @Test
    void invalidValuesNameTheSetting() {
        assertNames("loops", () -> TransportConfig.builder().loops(0).build());
        assertNames("connectTimeout", () -> TransportConfig.builder().connectTimeout(Duration.ZERO).build());
        assertNames("sendBufferSize", () -> TransportConfig.builder().sendBufferSize(-1).build());
        assertNames("receiveBufferSize", () -> TransportConfig.builder().receiveBufferSize(-1).build());
        assertNames("maxFrameLength", () -> TransportConfig.builder().maxFrameLength(0).build());
        assertNames("writeLowWatermark", () -> TransportConfig.builder().writeHighWatermark(10).writeLowWatermark(11).build());
        assertNames("maxBuffersPerWrite", () -> TransportConfig.builder().maxBuffersPerWrite(1025).build());
        assertNames("maxBytesPerWrite", () -> TransportConfig.builder().maxBytesPerWrite(0).build());
        assertNames("frameCodec", () -> TransportConfig.builder().frameCodec(null).build());
        assertNames("readBufferSize", () -> TransportConfig.builder().readBufferSize(8).build());
        assertNames("closeDrainTimeout", () -> TransportConfig.builder().closeDrainTimeout(Duration.ofMillis(-1)).build());
    }

    @Test
    void aMessageNamesTheSettingItsValueAndTheRule() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TransportConfig.builder().writeLowWatermark(2 << 20).build());
        assertEquals("writeLowWatermark = 2097152 is invalid: must be 0..writeHighWatermark (1048576)", e.getMessage());
    }

    @Test
    void aConfigKeepsTheValuesItWasBuiltWith() {
        TransportConfig.Builder builder = TransportConfig.builder().loops(2).tcpNoDelay(false);
        TransportConfig two = builder.build();
        builder.loops(3);
        TransportConfig.Builder copy = two.toBuilder();
        copy.loops(4);
        assertEquals(2, two.loops());
        assertEquals(3, builder.build().loops());
        assertEquals(4, copy.build().loops());
        assertEquals(two, TransportConfig.builder().loops(2).tcpNoDelay(false).build());
        assertEquals(two.hashCode(), TransportConfig.builder().loops(2).tcpNoDelay(false).build().hashCode());
        assertNotEquals(two, builder.build());
        assertNotEquals(TransportConfig.defaults(), two);
    }

    @Test
    void toStringNamesEverySetting() {
        String s = TransportConfig.defaults().toString();
        assertEquals("TransportConfig{loops=1, connectTimeout=PT5S, tcpNoDelay=true, keepAlive=false, sendBufferSize=0,"
                + " receiveBufferSize=0, readBufferSize=65536, maxFrameLength=268435456, writeHighWatermark=1048576,"
                + " writeLowWatermark=524288, maxBuffersPerWrite=1024, maxBytesPerWrite=1048576, writeSpinCount=16,"
                + " writeThrough=true, writeThroughQuietTime=PT0.00001S, pollsBeforeSleep=20,"
                + " closeDrainTimeout=PT2S, frameCodec=CqlFrameCodec, readIdleTimeout=PT0S, writeIdleTimeout=PT0S, maxPendingBytes=0,"
                + " tls=null, checkOutboundFrames=true}", s);
    }

    @Test
    void theCqlCodecReadsTheDeclaredLengthAndNamesABadVersionByte() {
        FrameCodec cql = CqlFrameCodec.INSTANCE;
        ByteBuffer header = ByteBuffer.allocate(12).position(3);
        header.put(3, (byte) 0x84).putInt(3 + 5, 23_928);
        assertEquals(9, cql.headerLength());
        assertEquals(9 + 23_928, cql.frameLength(header, 3));
        header.put(3, (byte) 0x5f);
        ProtocolException e = assertThrows(ProtocolException.class, () -> cql.frameLength(header, 3));
        assertTrue(e.getMessage().startsWith("invalid protocol version byte 0x5f (95)"), e.getMessage());
        header.put(3, (byte) 4).putInt(3 + 5, -1);
        e = assertThrows(ProtocolException.class, () -> cql.frameLength(header, 3));
        assertTrue(e.getMessage().startsWith("invalid frame body length -1"), e.getMessage());
    }

    private static void assertNames(String setting, Runnable build) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, build::run);
        assertTrue(e.getMessage().startsWith(setting + " = "), e.getMessage());
    }
}
