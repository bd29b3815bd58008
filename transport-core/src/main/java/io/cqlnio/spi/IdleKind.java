package io.cqlnio.spi;

/** Which direction went quiet, in {@link FrameHandler#onIdle}. */
public enum IdleKind {
    /** No whole frame was read for {@code TransportConfig.readIdleTimeout}. */
    READ,
    /** No frame finished writing for {@code TransportConfig.writeIdleTimeout}. */
    WRITE
}
