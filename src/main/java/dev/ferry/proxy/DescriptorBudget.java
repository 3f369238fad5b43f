package dev.ferry.proxy;

import dev.ferry.config.FerryOptions;
import dev.ferry.config.RouteOptions;

import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;

/**
 * How many connections the process's descriptor limit ({@code RLIMIT_NOFILE}, {@code ulimit -n}) leaves room for,
 * as HAProxy derives {@code maxconn} from it. Without this, a limit below {@code limits.max-connections} showed up
 * as accepts failing with EMFILE and, worse, accepted clients failing CONNECT_FAILED because no upstream socket
 * could be opened (600 clients under {@code ulimit -n 256}).
 * <pre>
 *   reserved  = open now (the JVM, Vert.x's event loops, the echo upstream: measured at the check)
 *             + listening sockets (routes x instances) + the admin's (1 + admin.max-connections)
 *             + a resolver socket per event loop + a check socket per actively checked upstream
 *             + {@value #SLACK} (clients refused with LIMIT until their release, /proc reads, files the JVM opens late)
 *   per connection = 2 (client + upstream), 3 when a route proxies to the embedded echo upstream (its socket too)
 *   room      = (limit - reserved) / per connection, at least 1
 *   effective = min(limits.max-connections, room); limits.max-connections 0 (unlimited) becomes room
 * </pre>
 * Measured: a started Ferry with one instance holds 19 descriptors (stdio, the JVM's modules and jar, random
 * devices, 3 per event loop: epoll, eventfd, timerfd; the sockets), 17 of them before the listeners bind.
 * A spliced direction holds a pipe (2 more) while it splices: not counted, as HAProxy counts its pipes apart
 * ({@code maxpipes}); with {@code splice: true} leave room for them.
 * <p>
 * Immutable.
 */
public final class DescriptorBudget {

  /**
   * Descriptors the sum does not see, mostly clients refused with LIMIT until the registry's release closes them (an
   * event-loop round trip or two). Measured under {@code ulimit -n 128} with 600 clients at once: one listener never
   * ran out (3 runs); two ran out 0 to 2 times, four 6 to 10 times, each a failed accept that {@link AcceptErrors}
   * counts and retries after a pause. A larger slack only moves that point; the real limits of a pod are far above.
   */
  static final int SLACK = 32;

  private final long limit;
  private final long reserved;
  private final int perConnection;
  private final int configured;
  private final int room;
  private final String reservedDetail;

  private DescriptorBudget(long limit, long reserved, int perConnection, int configured, int room,
                           String reservedDetail) {
    this.limit = limit;
    this.reserved = reserved;
    this.perConnection = perConnection;
    this.configured = configured;
    this.room = room;
    this.reservedDetail = reservedDetail;
  }

  /**
   * The budget of {@code options} under {@code limit} descriptors with {@code openNow} already open.
   *
   * @param limit   the descriptor limit, or a negative value when unknown (no Unix MXBean): then no bound
   * @param echo    whether a route proxies to the embedded echo upstream
   */
  public static DescriptorBudget of(FerryOptions options, long limit, long openNow, boolean echo) {
    int configured = options.limits().maxConnections();
    int perConnection = echo ? 3 : 2;
    if (limit < 0) {
      return new DescriptorBudget(limit, 0, perConnection, configured, Integer.MAX_VALUE, "");
    }
    int instances = options.effectiveInstances();
    long listening = (long) options.routes().size() * instances;
    long admin = 1L + options.admin().maxConnections();
    long checks = 0;
    for (RouteOptions r : options.routes()) {
      if (r.pool().active().enabled()) {
        checks += r.pool().upstreams().size();
      }
    }
    long reserved = Math.max(0, openNow) + listening + admin + instances + checks + SLACK;
    long room = Math.max(1, (limit - reserved) / perConnection);
    String detail = reserved + " reserved: " + openNow + " open now, " + listening + " listening, " + admin
      + " admin, " + instances + " resolver, " + checks + " health check, " + SLACK + " slack";
    return new DescriptorBudget(limit, reserved, perConnection, configured, (int) Math.min(Integer.MAX_VALUE, room),
      detail);
  }

  /** The budget of this process: its limit and open count from {@code UnixOperatingSystemMXBean}. */
  public static DescriptorBudget ofThisProcess(FerryOptions options, boolean echo) {
    long[] fds = descriptors();
    return of(options, fds[1], fds[0], echo);
  }

  /** {open, max} descriptors of this process, or {-1, -1} where the JVM cannot tell (not Unix). */
  public static long[] descriptors() {
    OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
    if (os instanceof com.sun.management.UnixOperatingSystemMXBean unix) {
      return new long[] {unix.getOpenFileDescriptorCount(), unix.getMaxFileDescriptorCount()};
    }
    return new long[] {-1, -1};
  }

  /**
   * Whether {@code cause} (or a cause of it) is EMFILE or ENFILE: "Too many open files" (in system), as native epoll
   * ({@code accept(..) failed with error(-24): Too many open files}) and the JDK both word it.
   */
  static boolean outOfDescriptors(Throwable cause) {
    for (Throwable t = cause; t != null; t = t.getCause()) {
      String m = t.getMessage();
      if (m != null && m.contains("Too many open files")) {
        return true;
      }
    }
    return false;
  }

  /** The process's connection limit to enforce: the configured one, lowered to what the descriptors allow. */
  public int effectiveMaxConnections() {
    if (!known()) {
      return configured;
    }
    return configured == 0 ? room : Math.min(configured, room);
  }

  /** True when the descriptors allow fewer connections than {@code limits.max-connections} asks (not 0). */
  public boolean lowered() {
    return configured != 0 && room < configured;
  }

  public boolean known() {
    return limit >= 0;
  }

  public long limit() {
    return limit;
  }

  public long reserved() {
    return reserved;
  }

  public int perConnection() {
    return perConnection;
  }

  /** The descriptor limit a process needs for {@code limits.max-connections} as configured (0: unlimited). */
  public long needed() {
    return reserved + (long) configured * perConnection;
  }

  /** The start-up log line's text. */
  public String describe() {
    if (!known()) {
      return "descriptor limit unknown (no Unix OperatingSystemMXBean): limits.max-connections "
        + configured + " is not checked against it";
    }
    String base = "descriptor limit (RLIMIT_NOFILE, ulimit -n) " + limit + ", " + reservedDetail + "; "
      + perConnection + " per connection";
    if (lowered()) {
      return "!!! " + base + ": room for " + room + " connections, but limits.max-connections is " + configured
        + " (needs " + needed() + " descriptors). limits.max-connections lowered to " + room + ": clients over it are "
        + "closed with LIMIT. Raise ulimit -n to " + needed() + " or more, or lower limits.max-connections !!!";
    }
    if (configured == 0) {
      return base + ": limits.max-connections 0 (unlimited) is bounded at " + room + " connections";
    }
    return base + ": room for " + room + " connections; limits.max-connections " + configured + " fits";
  }

  /** Why a client over the process limit was refused: the detail of its LIMIT close. */
  String refusalDetail() {
    int effective = effectiveMaxConnections();
    if (known() && (lowered() || configured == 0)) {
      return "over limits.max-connections (" + effective + ", " + (configured == 0 ? "unlimited" : configured)
        + " lowered to fit the descriptor limit " + limit + ")";
    }
    return "over limits.max-connections (" + effective + ")";
  }
}
