package dev.ferry.config;

/**
 * The limits over the whole process, from the top-level {@code limits} section: {@code max-connections} (a client
 * over it is closed at once with LIMIT) and {@code max-buffered-bytes} (bytes queued toward sockets over all
 * connections above which every forwarding source pauses until they drain to half; each listener enforces its share).
 * The top-level {@code limits.max-connections-per-source} is the routes' default ({@link RouteLimits}).
 *
 * @param maxConnections   0 = unlimited, ..{@value #MAX_CONNECTIONS}
 * @param maxBufferedBytes {@value BufferOptions#MIN}..{@value BufferOptions#MAX}, not below any route's soft limit
 */
public record ProcessLimits(int maxConnections, int maxBufferedBytes) {

  public static final int MAX_CONNECTIONS = 1_000_000;
  public static final ProcessLimits DEFAULTS = new ProcessLimits(10_000, 256 * 1024 * 1024);

  public ProcessLimits {
    ConfigPaths.checkRange("max-connections", maxConnections, 0, MAX_CONNECTIONS);
    ConfigPaths.checkRange("max-buffered-bytes", maxBufferedBytes, BufferOptions.MIN, BufferOptions.MAX);
  }
}
