package io.cqlnio.bench.tls;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Keystores made at run time with the JDK's {@code keytool}, once per JVM, in a temporary folder removed at
 * exit: nothing secret is checked in and nothing expires in the repository.
 *
 * <ul>
 * <li>{@code server}: self-signed, names {@code localhost} and {@code 127.0.0.1}; trusted by {@link #clientContext()}.</li>
 * <li>{@code wronghost}: self-signed, names only {@code wrong.example}; also trusted, so only the host name check
 *     can reject it.</li>
 * <li>{@code untrusted}: self-signed, names {@code localhost} and {@code 127.0.0.1}; trusted by nobody.</li>
 * </ul>
 *
 * <pre>{@code
 * TestCertificates pki = TestCertificates.get();
 * SSLContext server = pki.serverContext();          // for the peer
 * TlsConfig tls = TlsConfig.of(pki.clientContext()); // for the transport under test
 * }</pre>
 *
 * Thread-safe; for tests and benchmarks only.
 */
public final class TestCertificates {

    /** Password of every keystore made here. */
    public static final String PASSWORD = "cqlnio-test";

    private static TestCertificates instance;

    private final Path dir;

    private TestCertificates(Path dir) {
        this.dir = dir;
    }

    /** The keystores of this JVM, made by the first call (about two seconds of {@code keytool}). */
    public static synchronized TestCertificates get() {
        if (instance == null) {
            try {
                Path dir = Files.createTempDirectory("cqlnio-tls-");
                Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(dir), "cqlnio-tls-cleanup"));
                keyPair(dir, "server", "dns:localhost,ip:127.0.0.1");
                keyPair(dir, "wronghost", "dns:wrong.example");
                keyPair(dir, "untrusted", "dns:localhost,ip:127.0.0.1");
                trust(dir, "server");
                trust(dir, "wronghost");
                instance = new TestCertificates(dir);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return instance;
    }

    /** PKCS12 keystore of the {@code server} identity (alias {@code server}), e.g. for Cassandra. */
    public Path serverKeystore() {
        return dir.resolve("server.p12");
    }

    /** PKCS12 truststore holding the {@code server} and {@code wronghost} certificates. */
    public Path truststore() {
        return dir.resolve("truststore.p12");
    }

    public SSLContext serverContext() {
        return serverContext("server");
    }

    public SSLContext wrongHostServerContext() {
        return serverContext("wronghost");
    }

    public SSLContext untrustedServerContext() {
        return serverContext("untrusted");
    }

    /** A client context trusting {@code server} and {@code wronghost}, with no key of its own. */
    public SSLContext clientContext() {
        try {
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(load(truststore()));
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, tmf.getTrustManagers(), null);
            return context;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot build the client TLS context from " + truststore(), e);
        }
    }

    private SSLContext serverContext(String identity) {
        Path keystore = dir.resolve(identity + ".p12");
        try {
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(load(keystore), PASSWORD.toCharArray());
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(kmf.getKeyManagers(), null, null);
            return context;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot build the server TLS context from " + keystore, e);
        }
    }

    private static KeyStore load(Path path) throws GeneralSecurityException, IOException {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(path)) {
            ks.load(in, PASSWORD.toCharArray());
        }
        return ks;
    }

    private static void keyPair(Path dir, String alias, String san) throws IOException {
        keytool(dir, "-genkeypair", "-alias", alias, "-keyalg", "EC", "-groupname", "secp256r1",
                "-dname", "CN=" + alias + ", O=cqlnio tests", "-ext", "san=" + san, "-validity", "30",
                "-keystore", alias + ".p12", "-storetype", "PKCS12", "-storepass", PASSWORD, "-keypass", PASSWORD);
        keytool(dir, "-exportcert", "-alias", alias, "-keystore", alias + ".p12", "-storepass", PASSWORD,
                "-file", alias + ".crt");
    }

    private static void trust(Path dir, String alias) throws IOException {
        keytool(dir, "-importcert", "-noprompt", "-alias", alias, "-file", alias + ".crt",
                "-keystore", "truststore.p12", "-storetype", "PKCS12", "-storepass", PASSWORD);
    }

    private static void keytool(Path dir, String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        try {
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException("keytool failed: " + String.join(" ", command) + "\n" + output);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted while running keytool", e);
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temp folder left behind is harmless
        }
    }
}
