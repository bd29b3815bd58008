package io.cqlnio.kit;

import io.cqlnio.bench.tls.TestCertificates;
import io.cqlnio.spi.TlsConfig;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.testkit.LoopbackPeer;

import javax.net.ssl.SSLContext;
import java.io.IOException;

/**
 * How a kit test's bytes travel between the transport and its peer: as they are, or inside TLS. Over
 * {@link #TLS} the peer terminates TLS itself ({@link LoopbackPeer}), so whatever sits between the two (the
 * {@link FaultProxy}, the kernels' buffers) carries ciphertext: a short write, a fragment or a cut lands in the
 * middle of a TLS record, not of a frame.
 */
enum Wire {
    PLAIN,
    TLS;

    /** {@code config} as given, or with TLS trusting the kit's test certificates and checking the host name. */
    TransportConfig.Builder client(TransportConfig.Builder config) {
        return this == TLS ? config.tls(TlsConfig.of(Contexts.CLIENT)) : config;
    }

    /** The context the peer's side serves with, or {@code null} in the clear. */
    SSLContext server() {
        return this == TLS ? Contexts.SERVER : null;
    }

    /** A peer on this wire: in the clear, or a TLS server with the kit's test certificate. */
    LoopbackPeer peer(int receiveBuffer, boolean stalled, LoopbackPeer.Server serve) throws IOException {
        return new LoopbackPeer(receiveBuffer, stalled, 50, server(), serve);
    }

    /** Made on first use only: plaintext runs never pay for keytool. */
    private static final class Contexts {
        static final SSLContext CLIENT = TestCertificates.get().clientContext();
        static final SSLContext SERVER = TestCertificates.get().serverContext();
    }
}
