/**
 * The Netty implementation of {@code io.cqlnio.spi}, the baseline cqlnio is measured against:
 * {@code "netty-nio"}, {@code "netty-epoll"} and {@code "netty-io_uring"}. It writes the way the Java driver does
 * (a per-event-loop write coalescer: many {@code write}s, one {@code flush} per channel), with pooled direct
 * buffers, TCP_NODELAY and the configured watermarks, so the comparison is against Netty at its best.
 */
package io.cqlnio.bench.netty;
