package dev.ferry.registry;

import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The state machine of one registry shard, free of Vert.x so it can be driven by tests directly.
 * <pre>
 *   (absent) --opened--> OPEN --first close request--> CLOSING --ack--> RELEASED (removed)
 * </pre>
 * Invariants: at most one release order per id; the first request's reason is the one recorded; every later
 * request for the id, or for an id not in the table, is suppressed; an ack is accepted only for a CLOSING id.
 * <p>
 * Threading: confined to the shard's event loop; not thread-safe.
 */
public final class ConnectionTable {

  public enum State { OPEN, CLOSING, RELEASED }

  /** One connection's registry record. */
  public static final class Entry {
    private final ConnectionInfo info;
    private final String owner;
    private State state = State.OPEN;
    private CloseReason reason;
    private Side side;
    private String detail;
    private long closingSinceNanos;
    private boolean leakReported;
    /** The connection was counted in its route's opened meter (at once when its route was final at accept). */
    private boolean routeCounted;

    Entry(ConnectionInfo info, String owner, boolean routeCounted) {
      this.info = info;
      this.owner = owner;
      this.routeCounted = routeCounted;
    }

    public ConnectionInfo info() {
      return info;
    }

    public String owner() {
      return owner;
    }

    public State state() {
      return state;
    }

    public CloseReason reason() {
      return reason;
    }

    public Side side() {
      return side;
    }

    public String detail() {
      return detail;
    }

    public boolean leakReported() {
      return leakReported;
    }

    /** Whether the connection was counted in its route's opened meter. */
    public boolean routeCounted() {
      return routeCounted;
    }
  }

  /** What became of a close request. */
  public enum Decision {
    /** First request for an open id: a release order must go to the owner. */
    ORDER_RELEASE,
    /** The id is already closing, or no longer (or never) in the table: a prevented double free. */
    SUPPRESSED
  }

  private final Map<Long, Entry> entries = new HashMap<>();

  /** Records a new connection; returns false (and changes nothing) if the id is already known. */
  public boolean open(ConnectionInfo info, String owner) {
    return entries.putIfAbsent(info.id(), new Entry(info, owner, true)) == null;
  }

  /**
   * Records a new connection whose route may not be final yet ({@code routeFinal} false); returns false (and changes
   * nothing) if the id is already known.
   */
  public boolean open(ConnectionInfo info, String owner, boolean routeFinal) {
    return entries.putIfAbsent(info.id(), new Entry(info, owner, routeFinal)) == null;
  }

  /**
   * The connection's route is final: true the first time for an id whose route was not counted yet (the caller counts
   * it now), false for an unknown id or one already counted.
   */
  public boolean routeFinal(long id) {
    Entry e = entries.get(id);
    if (e == null || e.routeCounted) {
      return false;
    }
    e.routeCounted = true;
    return true;
  }

  public Decision requestClose(CloseRequest request, long nowNanos) {
    Entry e = entries.get(request.id());
    if (e == null || e.state != State.OPEN) {
      return Decision.SUPPRESSED;
    }
    e.state = State.CLOSING;
    e.reason = request.reason();
    e.side = request.side();
    e.detail = request.detail();
    e.closingSinceNanos = nowNanos;
    return Decision.ORDER_RELEASE;
  }

  /**
   * Accepts the owner's acknowledgement and removes the entry.
   *
   * @return the released entry, or null if the id was not CLOSING (a release that ran twice or without an order)
   */
  public Entry released(long id) {
    Entry e = entries.get(id);
    if (e == null || e.state != State.CLOSING) {
      return null;
    }
    e.state = State.RELEASED;
    entries.remove(id);
    return e;
  }

  /** CLOSING entries older than {@code bound} not yet reported; marks them reported so each leaks once. */
  public List<Entry> overdue(long nowNanos, long boundNanos) {
    List<Entry> late = new ArrayList<>();
    for (Entry e : entries.values()) {
      if (e.state == State.CLOSING && !e.leakReported && nowNanos - e.closingSinceNanos > boundNanos) {
        e.leakReported = true;
        late.add(e);
      }
    }
    return late;
  }

  public Entry get(long id) {
    return entries.get(id);
  }

  public Collection<Entry> entries() {
    return entries.values();
  }

  public int size() {
    return entries.size();
  }
}
