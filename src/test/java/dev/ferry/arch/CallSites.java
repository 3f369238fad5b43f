package dev.ferry.arch;

import com.tngtech.archunit.core.domain.AccessTarget;
import com.tngtech.archunit.core.domain.JavaCodeUnit;

import java.util.List;

/**
 * The one list of call sites allowed to do what Ferry's lifecycle reserves to one place: close a channel, release a
 * reference-counted object, move a connection through the registry's states. The rules in {@link LifecycleRulesTest}
 * read these lists; when the code moves, adjust the entry here (each says why it is allowed) and nowhere else.
 * <p>
 * Sites are named by class and method (every overload; a lambda or method reference counts as its enclosing method,
 * which is how ArchUnit attributes it). Classes are named as strings: most of them are package-private in
 * {@code dev.ferry.proxy}. {@link LifecycleRulesTest} also checks that every entry still does what it is allowed to
 * do, so a renamed or emptied method shows up as a stale entry instead of a silent hole.
 */
final class CallSites {

  static final String PROXY_CONNECTION = "dev.ferry.proxy.ProxyConnection";
  static final String LISTENER_VERTICLE = "dev.ferry.proxy.ListenerVerticle";
  static final String RELAY = "dev.ferry.proxy.Relay";
  static final String BUFFER_LEDGER = "dev.ferry.proxy.BufferLedger";
  static final String FAULTS = "dev.ferry.proxy.Faults";
  static final String PREAMBLE_HANDLER = "dev.ferry.proxy.PreambleHandler";
  static final String HEALTH_PROBE = "dev.ferry.upstream.HealthProbe";
  static final String CONNECTION_TABLE = "dev.ferry.registry.ConnectionTable";
  static final String CONNECTION_TABLE_ENTRY = "dev.ferry.registry.ConnectionTable$Entry";
  static final String REGISTRY_VERTICLE = "dev.ferry.registry.ConnectionRegistryVerticle";

  /** Any method of the class. */
  static final String ANY = "*";

  /** A place in Ferry's code: a method of a class, or {@link #ANY} of its methods. */
  record Site(String owner, String method, String why) {

    boolean allows(JavaCodeUnit origin) {
      return names(origin.getOwner().getName(), origin.getName());
    }

    boolean isTarget(AccessTarget target) {
      return names(target.getOwner().getName(), target.getName());
    }

    private boolean names(String ownerName, String methodName) {
      return ownerName.equals(owner) && (method.equals(ANY) || methodName.equals(method));
    }

    @Override
    public String toString() {
      return owner.substring(owner.lastIndexOf('.') + 1) + "." + method;
    }
  }

  /** Rule 1: the closes of proxied channels (and of the listener's own server channel). */
  static final List<Site> CHANNEL_CLOSES = List.of(
    new Site(PROXY_CONNECTION, "release",
      "the release point: aborts the upstream connect still in flight"),
    new Site(PROXY_CONNECTION, "closeAfterFlush",
      "the release's close-on-flush of the client and the upstream channel"),
    new Site(PROXY_CONNECTION, "closeChannelsNow",
      "the release's flush bound (forceClose calls it) and the listener's shutdown backstop"),
    new Site(PROXY_CONNECTION, "onConnect",
      "a connect that succeeded after the release began: closed at once, nobody waits for it"),
    new Site(LISTENER_VERTICLE, "stop",
      "closes the listener's own listening channel at shutdown, not a proxied one"));

  /** Rule 1, health checks: a check channel is not proxied; its probe ends it once, in finish. */
  static final List<Site> CHECK_CHANNEL_CLOSES = List.of(
    new Site(HEALTH_PROBE, "finish",
      "the one end of a check, guarded by its finished flag: closes (or force-closes, if never registered)"));

  /** Rule 2: {@code release()} on a reference-counted object ({@code ByteBuf} and the like). */
  static final List<Site> REFERENCE_RELEASES = List.of(
    new Site(BUFFER_LEDGER, "release",
      "the one place that releases Ferry's pooled buffers: it uncounts them and catches a second release"));

  /** Rule 2: Netty's {@code ReferenceCountUtil.release}/{@code safeRelease}, for objects that may not be counted. */
  static final List<Site> UTIL_RELEASES = List.of(
    new Site(RELAY, "channelRead",
      "a pipeline message that is not a ByteBuf: never Ferry's buffer, released as Netty's contract asks"),
    new Site(RELAY, "userEventTriggered",
      "a user event has reached the end of the relay's pipeline: released as Netty's contract asks"),
    new Site(HEALTH_PROBE, "channelRead",
      "a health check's reply: copied out and released in the same call; never a proxied buffer"),
    new Site(PREAMBLE_HANDLER, "channelRead",
      "a decoded PROXY protocol header (Netty's HAProxyMessage, reference counted for its TLVs): its addresses "
        + "copied out, released in the same call; never a proxied buffer"));

  /** Rule 3: the listener's methods a fault handler may reach: publishing, and reading configuration. */
  static final List<Site> FAULT_MAY_REACH = List.of(
    new Site(LISTENER_VERTICLE, "requestClose", "the publication itself: a close request to the registry"),
    new Site(LISTENER_VERTICLE, "registryOf", "requestClose's choice of the registry shard"),
    new Site(LISTENER_VERTICLE, "options", "read-only: the limits a fault's detail names"));

  /** Rule 4: writes to the fields of a registry entry (its state, reason, side...). */
  static final List<Site> ENTRY_WRITES = List.of(
    new Site(CONNECTION_TABLE, ANY, "the registry's state machine: OPEN -> CLOSING -> RELEASED"),
    new Site(CONNECTION_TABLE_ENTRY, "<init>", "an entry is born OPEN"));

  /** Rule 4: the calls that move a connection between the registry's states. */
  static final List<Site> TABLE_TRANSITIONS = List.of(
    new Site(REGISTRY_VERTICLE, ANY,
      "the registry shard: one message at a time per id, on its own event loop, so the first request wins"));

  private CallSites() {
  }
}
