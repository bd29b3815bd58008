package io.cqlnio.nio;

/**
 * LZ4 is optional for {@code transport-core}: lz4-java ({@value #ARTIFACT}) is an optional Maven dependency and a
 * {@code requires static} module. This class holds no lz4-java type, so it can look for the jar and explain its
 * absence before {@link Lz4Codec}, which needs it, is loaded.
 */
final class Lz4Dependency {

    /** The Maven coordinates a user must add. */
    static final String ARTIFACT = "at.yawk.lz4:lz4-java";
    /** Its module name (an automatic module), for the module path. */
    static final String MODULE = "org.lz4.java";

    private static final String PROBE = "net.jpountz.lz4.LZ4Factory";

    private Lz4Dependency() {
    }

    /**
     * @param owner names the connection in the error
     * @return a codec
     * @throws UnsupportedOperationException naming {@value #ARTIFACT} when lz4-java cannot be used from here
     */
    static Lz4Codec codec(Object owner) {
        require(Lz4Dependency.class.getClassLoader(), Lz4Dependency.class.getModule(), owner);
        return new Lz4Codec();
    }

    /** Package-private for tests: {@code loader} is where lz4-java is looked for, {@code from} who must read it. */
    static void require(ClassLoader loader, Module from, Object owner) {
        Class<?> probe;
        try {
            probe = Class.forName(PROBE, false, loader);
        } catch (ClassNotFoundException | LinkageError missing) {
            throw new UnsupportedOperationException("LZ4 segments (Framing.V5_SEGMENTS_LZ4) need " + ARTIFACT
                    + " (1.14 or later), an optional dependency of transport-core: add it to the class path (or, on"
                    + " the module path, add module " + MODULE + " with --add-modules " + MODULE + "); asked on "
                    + owner, missing);
        }
        if (!from.canRead(probe.getModule())) {
            // transport-core is a named module and lz4-java sits on the class path, where a named module cannot see it.
            throw new UnsupportedOperationException("LZ4 segments (Framing.V5_SEGMENTS_LZ4) need " + ARTIFACT
                    + " readable by " + from.getName() + ": put it on the module path and add --add-modules " + MODULE
                    + " (found in " + probe.getModule() + "); asked on " + owner);
        }
    }
}
