package io.cqlnio.readme;

// The README's JMX bridge, shown there from the tag below to the end of the file (ReadmeTest compares them).
// tag::jmx[]
import io.cqlnio.spi.Transport;

import javax.management.JMException;
import javax.management.ObjectName;
import java.lang.management.ManagementFactory;

/** A transport's counters as JMX attributes: {@code CqlnioJmx.register(transport, "main")}. */
public final class CqlnioJmx {

    /** JMX reads only a public interface whose name ends in MXBean (a local interface is not compliant). */
    public interface StatsMXBean {
        long getFramesWritten();

        long getShortWrites();

        long getPendingBytes();

        double getLoopBusyRatio();
    }

    private CqlnioJmx() {
    }

    /** Registers as {@code io.cqlnio:type=Transport,name="<name>"}; unregister it when you close the transport. */
    public static ObjectName register(Transport transport, String name) throws JMException {
        ObjectName objectName = new ObjectName("io.cqlnio:type=Transport,name=" + ObjectName.quote(name));
        ManagementFactory.getPlatformMBeanServer().registerMBean(new StatsMXBean() {
            @Override public long getFramesWritten() { return transport.stats().framesWritten(); }
            @Override public long getShortWrites() { return transport.stats().shortWrites(); }
            @Override public long getPendingBytes() { return transport.stats().pendingBytes(); }
            @Override public double getLoopBusyRatio() { return transport.stats().busyRatio(); }
        }, objectName);
        return objectName;
    }
}
// end::jmx[]
