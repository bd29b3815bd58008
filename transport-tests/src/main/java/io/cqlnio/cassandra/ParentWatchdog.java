package io.cqlnio.cassandra;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.util.Arrays;

/**
 * Main class of the child JVM: ends the node when the JVM that started it dies, even by kill -9 (when no
 * shutdown hook can run), and runs the main class named by its first argument (CassandraDaemon, which thus still
 * shows in {@code ps}) with the remaining arguments. The parent holds the write end of the
 * child's stdin and never writes to it; the operating system closes it when the parent dies, and the end of
 * stdin is the signal. Runs inside Cassandra's JVM, so it uses nothing but the JDK.
 */
final class ParentWatchdog {

    /** Exit status that tells the node's log reader why it stopped. */
    static final int PARENT_GONE = 86;

    private ParentWatchdog() {
    }

    public static void main(String[] args) throws Exception {
        Thread watchdog = new Thread(() -> {
            InputStream in = System.in;
            try {
                while (in.read() >= 0) {
                    // the parent never writes; anything read is ignored
                }
            } catch (IOException closed) {
                // same as end of input: the parent is gone
            }
            System.err.println("cqlnio ParentWatchdog: the JVM that started this node is gone; halting");
            Runtime.getRuntime().halt(PARENT_GONE);
        }, "cqlnio-parent-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        Class<?> daemon = Class.forName(args[0]);
        Method main = daemon.getMethod("main", String[].class);
        main.invoke(null, (Object) Arrays.copyOfRange(args, 1, args.length));
    }
}
