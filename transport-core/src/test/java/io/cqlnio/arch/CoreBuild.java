package io.cqlnio.arch;

import io.cqlnio.spi.Transports;

import java.io.File;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

/** Where this build put transport-core's classes and the two jars they require, as the tests' class path has them. */
final class CoreBuild {

    private CoreBuild() {
    }

    /** {@return the directory (or jar) that holds transport-core's main classes} */
    static Path classes() {
        try {
            return Paths.get(Transports.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@return transport-core's main sources, beside its classes in the Maven layout} */
    static Path mainSources() {
        return classes().resolveSibling("..").resolve("src/main/java").normalize();
    }

    /** {@return jctools-core and slf4j-api, as a module path} */
    static String dependencies() {
        List<String> jars = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            String name = Paths.get(entry).getFileName().toString();
            if (name.startsWith("jctools-core-") || name.startsWith("slf4j-api-")) {
                jars.add(entry);
            }
        }
        if (jars.size() != 2) {
            throw new IllegalStateException("jctools-core and slf4j-api expected on the class path, found " + jars);
        }
        return String.join(File.pathSeparator, jars);
    }
}
