package dev.ferry.registry;

/** Event-bus addresses, all local. One place so a newcomer can find every conversation. */
public final class Addresses {

  private static final String REGISTRY = "ferry.registry.";
  private static final String LISTENER = "ferry.listener.";

  private Addresses() {
  }

  /** The shard that serialises every message about {@code id}. */
  public static int shardOf(long id, int shards) {
    return (int) Long.remainderUnsigned(id, shards);
  }

  /** Lifecycle messages (opened, close requests, release acks) for one registry shard. */
  public static String registry(int shard) {
    return REGISTRY + shard;
  }

  /** Request/reply queries (list, kill) for one registry shard. */
  public static String registryQuery(int shard) {
    return REGISTRY + shard + ".query";
  }

  /** Release orders for the listener with this index. */
  public static String listener(int index) {
    return LISTENER + index;
  }
}
