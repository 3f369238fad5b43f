package dev.ferry.registry;

import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.state.Action;
import net.jqwik.api.state.ActionChain;
import net.jqwik.api.state.Transformer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Property-based tests of the registry state machine ({@link ConnectionTable}), free of Vert.x: random
 * interleavings of open, close request (random reason and side), ack, clock advance and watchdog events over a
 * small pool of ids (so they collide), including ids never opened, acks without orders, duplicate opens and
 * re-opens of a released id. Every step is checked against an independent reference model and the invariants of
 * the class comment:
 * <ul>
 *   <li>at most one ORDER_RELEASE per lifecycle (id, from an accepted open to its accepted ack);</li>
 *   <li>the first request's reason, side and detail are the ones recorded, and the released entry carries them;</li>
 *   <li>an ack is accepted only for a CLOSING id, and at most once;</li>
 *   <li>the watchdog reports a CLOSING id exactly once after it stays CLOSING past the bound, never an OPEN one,
 *       and is safe across a wrap-around of the nano clock;</li>
 *   <li>counters balance: opened = released + still in table; suppressed = requests - orders;
 *       orders = acks accepted + entries CLOSING.</li>
 * </ul>
 * At the end of every run the remaining lifecycles are driven to their end: every id still CLOSING is reported as a
 * leak exactly once, then everything is released and the table is empty. jqwik prints the seed and the shrunk event
 * sequence of any failure.
 */
class ConnectionTablePropertyTest {

  /** Few ids, so events collide; 0..5 as the registry sees them, plus extremes no listener would ever send. */
  private static final long[] IDS = {0, 1, 2, 3, 4, 5, -1, Long.MAX_VALUE, Long.MIN_VALUE};
  private static final long BOUND = 1_000;

  // ---- events -----------------------------------------------------------------------------------------------

  sealed interface Event permits Open, Close, Ack, Advance, Watchdog {
  }

  record Open(long id, String owner) implements Event {
  }

  record Close(long id, CloseReason reason, Side side, String detail) implements Event {
  }

  record Ack(long id) implements Event {
  }

  /** The clock moves forward by {@code nanos}. */
  record Advance(long nanos) implements Event {
  }

  /** The watchdog runs with this bound. */
  record Watchdog(long boundNanos) implements Event {
  }

  // ---- the table under test next to a reference model -------------------------------------------------------

  /** A lifecycle: one accepted open of an id up to its accepted ack. */
  private record Lifecycle(long id, int generation) {
  }

  private static final class ModelEntry {
    final Lifecycle lifecycle;
    final String owner;
    ConnectionTable.State state = ConnectionTable.State.OPEN;
    CloseReason reason;
    Side side;
    String detail;
    long closingSinceElapsed;
    boolean leakReported;

    ModelEntry(Lifecycle lifecycle, String owner) {
      this.lifecycle = lifecycle;
      this.owner = owner;
    }
  }

  /**
   * Applies events to a real {@link ConnectionTable} and to a model, and checks after each step that they agree
   * and that the invariants hold. The model measures time as elapsed nanos that never wrap; the table is given
   * {@code start + elapsed}, which may wrap around Long.MAX_VALUE as System.nanoTime() may.
   */
  static final class TableUnderTest {
    final ConnectionTable table = new ConnectionTable();
    private final long clockStart;
    private long elapsed;
    private final Map<Long, ModelEntry> model = new HashMap<>();
    private final Map<Long, Integer> generations = new HashMap<>();
    private final Map<Lifecycle, Integer> ordersPerLifecycle = new HashMap<>();
    private final Map<Lifecycle, Integer> leaksPerLifecycle = new HashMap<>();
    private final Set<Lifecycle> releasedLifecycles = new HashSet<>();
    private final List<Event> history = new ArrayList<>();
    long opensAccepted;
    long opensRefused;
    long requests;
    long orders;
    long suppressed;
    long acksAccepted;
    long acksRejected;
    long leaks;

    TableUnderTest(long clockStart) {
      this.clockStart = clockStart;
    }

    private long now() {
      return clockStart + elapsed;
    }

    void apply(Event event) {
      history.add(event);
      if (event instanceof Open o) {
        open(o);
      } else if (event instanceof Close c) {
        close(c);
      } else if (event instanceof Ack a) {
        ack(a);
      } else if (event instanceof Advance a) {
        elapsed += a.nanos();
      } else if (event instanceof Watchdog w) {
        watchdog(w.boundNanos());
      }
      checkInvariants();
    }

    private void open(Open o) {
      boolean expected = !model.containsKey(o.id());
      boolean accepted = table.open(new ConnectionInfo(o.id(), "default", "127.0.0.1:1", 0, 0), o.owner());
      assertThat(accepted).as("open(%d) accepted; after %s", o.id(), history).isEqualTo(expected);
      if (accepted) {
        opensAccepted++;
        int generation = generations.merge(o.id(), 1, Integer::sum);
        model.put(o.id(), new ModelEntry(new Lifecycle(o.id(), generation), o.owner()));
      } else {
        opensRefused++;
      }
    }

    private void close(Close c) {
      requests++;
      ModelEntry m = model.get(c.id());
      ConnectionTable.Decision expected = m != null && m.state == ConnectionTable.State.OPEN
        ? ConnectionTable.Decision.ORDER_RELEASE : ConnectionTable.Decision.SUPPRESSED;
      ConnectionTable.Decision decision = table.requestClose(new CloseRequest(c.id(), c.reason(), c.side(),
        c.detail()), now());
      assertThat(decision).as("decision for %s; after %s", c, history).isEqualTo(expected);
      if (decision == ConnectionTable.Decision.ORDER_RELEASE) {
        orders++;
        int n = ordersPerLifecycle.merge(m.lifecycle, 1, Integer::sum);
        assertThat(n).as("release orders for %s", m.lifecycle).isEqualTo(1);
        m.state = ConnectionTable.State.CLOSING;
        m.reason = c.reason();
        m.side = c.side();
        m.detail = c.detail();
        m.closingSinceElapsed = elapsed;
      } else {
        suppressed++;
      }
    }

    private void ack(Ack a) {
      ModelEntry m = model.get(a.id());
      boolean expected = m != null && m.state == ConnectionTable.State.CLOSING;
      ConnectionTable.Entry e = table.released(a.id());
      assertThat(e != null).as("ack(%d) accepted; after %s", a.id(), history).isEqualTo(expected);
      if (e == null) {
        acksRejected++;
        return;
      }
      acksAccepted++;
      assertThat(releasedLifecycles.add(m.lifecycle)).as("%s released once", m.lifecycle).isTrue();
      assertThat(e.state()).isEqualTo(ConnectionTable.State.RELEASED);
      assertThat(e.info().id()).isEqualTo(a.id());
      assertThat(e.owner()).isEqualTo(m.owner);
      assertThat(e.reason()).as("released entry keeps the first request's reason").isEqualTo(m.reason);
      assertThat(e.side()).as("released entry keeps the first request's side").isEqualTo(m.side);
      assertThat(e.detail()).isEqualTo(m.detail);
      assertThat(table.get(a.id())).as("a released id is forgotten").isNull();
      model.remove(a.id());
    }

    private void watchdog(long bound) {
      Set<Long> expected = new HashSet<>();
      for (Map.Entry<Long, ModelEntry> me : model.entrySet()) {
        ModelEntry m = me.getValue();
        if (m.state == ConnectionTable.State.CLOSING && !m.leakReported && elapsed - m.closingSinceElapsed > bound) {
          expected.add(me.getKey());
        }
      }
      List<Long> reported = table.overdue(now(), bound).stream().map(e -> e.info().id()).toList();
      assertThat(reported).as("overdue(bound %d) after %s", bound, history).doesNotHaveDuplicates()
        .containsExactlyInAnyOrderElementsOf(expected);
      for (long id : reported) {
        ModelEntry m = model.get(id);
        m.leakReported = true;
        leaks++;
        int n = leaksPerLifecycle.merge(m.lifecycle, 1, Integer::sum);
        assertThat(n).as("leak reports for %s", m.lifecycle).isEqualTo(1);
      }
    }

    void checkInvariants() {
      assertThat(table.size()).as("table size after %s", history).isEqualTo(model.size());
      long closing = 0;
      for (Map.Entry<Long, ModelEntry> me : model.entrySet()) {
        ModelEntry m = me.getValue();
        ConnectionTable.Entry e = table.get(me.getKey());
        assertThat(e).as("entry %d after %s", me.getKey(), history).isNotNull();
        assertThat(e.state()).as("state of %d after %s", me.getKey(), history).isEqualTo(m.state);
        assertThat(e.owner()).isEqualTo(m.owner);
        assertThat(e.reason()).as("recorded reason of %d after %s", me.getKey(), history).isEqualTo(m.reason);
        assertThat(e.side()).as("recorded side of %d after %s", me.getKey(), history).isEqualTo(m.side);
        assertThat(e.detail()).isEqualTo(m.detail);
        assertThat(e.leakReported()).as("leak reported for %d after %s", me.getKey(), history)
          .isEqualTo(m.leakReported);
        if (m.state == ConnectionTable.State.OPEN) {
          assertThat(e.reason()).as("an OPEN entry has no reason yet").isNull();
          assertThat(e.leakReported()).as("an OPEN entry is never reported").isFalse();
        } else {
          closing++;
        }
      }
      for (ConnectionTable.Entry e : table.entries()) {
        assertThat(e.state()).as("no RELEASED entry stays in the table").isNotEqualTo(ConnectionTable.State.RELEASED);
      }
      assertThat(opensAccepted).as("opened = released + still in table").isEqualTo(acksAccepted + table.size());
      assertThat(suppressed).as("suppressed = requests - orders").isEqualTo(requests - orders);
      assertThat(orders).as("orders = acks accepted + CLOSING").isEqualTo(acksAccepted + closing);
      assertThat(leaks).as("leaks = lifecycles reported").isEqualTo(leaksPerLifecycle.size());
    }

    /**
     * Ends every lifecycle still in the table: whatever stays CLOSING past the bound is reported once (and not
     * again), then every CLOSING id is acknowledged, every OPEN one closed and acknowledged; the table ends empty
     * with every accepted open released.
     */
    void finish() {
      Set<Lifecycle> stuck = new HashSet<>();
      for (ModelEntry m : model.values()) {
        if (m.state == ConnectionTable.State.CLOSING) {
          stuck.add(m.lifecycle);
        }
      }
      apply(new Advance(BOUND + 1));
      apply(new Watchdog(BOUND));
      for (Lifecycle l : stuck) {
        assertThat(leaksPerLifecycle.get(l)).as("%s stuck CLOSING past the bound reported once", l).isEqualTo(1);
      }
      apply(new Advance(10 * BOUND));
      apply(new Watchdog(BOUND));
      assertThat(leaksPerLifecycle.values()).as("no lifecycle reported twice").allMatch(n -> n == 1);
      for (Long id : new ArrayList<>(model.keySet())) {
        if (model.get(id).state == ConnectionTable.State.OPEN) {
          apply(new Close(id, CloseReason.SHUTDOWN, Side.PROXY, "finish"));
        }
        apply(new Ack(id));
      }
      assertThat(table.size()).isZero();
      assertThat(opensAccepted).as("every accepted open released").isEqualTo(acksAccepted);
      assertThat(releasedLifecycles).hasSize((int) opensAccepted);
      assertThat(ordersPerLifecycle.values()).allMatch(n -> n == 1);
    }
  }

  // ---- generators -------------------------------------------------------------------------------------------

  private static Arbitrary<Long> ids() {
    return Arbitraries.of(0L, 1L, 2L, 3L, 4L, 5L, -1L, Long.MAX_VALUE, Long.MIN_VALUE);
  }

  private static Arbitrary<Open> opens(Arbitrary<Long> ids) {
    return Combinators.combine(ids, Arbitraries.of("ferry.listener.0", "ferry.listener.1")).as(Open::new);
  }

  private static Arbitrary<Close> closes(Arbitrary<Long> ids) {
    return Combinators.combine(ids, Arbitraries.of(CloseReason.class), Arbitraries.of(Side.class),
      Arbitraries.strings().alpha().ofMaxLength(3)).as(Close::new);
  }

  private static Arbitrary<Advance> advances() {
    return Arbitraries.longs().between(0, 2 * BOUND).map(Advance::new);
  }

  private static Arbitrary<Watchdog> watchdogs() {
    // Mostly the configured bound, sometimes another one (a config reload, a 0 bound).
    return Arbitraries.frequencyOf(
      net.jqwik.api.Tuple.of(4, Arbitraries.just(BOUND)),
      net.jqwik.api.Tuple.of(1, Arbitraries.longs().between(0, 3 * BOUND))).map(Watchdog::new);
  }

  private static Arbitrary<Event> events() {
    return Arbitraries.frequencyOf(
      net.jqwik.api.Tuple.of(5, opens(ids())),
      net.jqwik.api.Tuple.of(7, closes(ids())),
      net.jqwik.api.Tuple.of(4, ids().map(Ack::new)),
      net.jqwik.api.Tuple.of(2, advances()),
      net.jqwik.api.Tuple.of(2, watchdogs()));
  }

  /** Anywhere on the nano clock, including just before it wraps. */
  private static Arbitrary<Long> clockStarts() {
    return Arbitraries.oneOf(Arbitraries.longs(), Arbitraries.longs().between(Long.MAX_VALUE - 5 * BOUND,
      Long.MAX_VALUE), Arbitraries.just(0L));
  }

  @Provide
  Arbitrary<List<Event>> eventSequences() {
    return events().list().ofMaxSize(150);
  }

  @Provide
  Arbitrary<Long> starts() {
    return clockStarts();
  }

  // ---- properties -------------------------------------------------------------------------------------------

  @Property(tries = 400)
  @Label("any interleaving of open, close request, ack and watchdog keeps every lifecycle invariant")
  void anyInterleavingOfOpenCloseAckAndWatchdogKeepsEveryLifecycleInvariant(
    @ForAll("eventSequences") List<Event> events, @ForAll("starts") long clockStart) {
    TableUnderTest t = new TableUnderTest(clockStart);
    for (Event e : events) {
      t.apply(e);
    }
    t.finish();
  }

  @Property(tries = 300)
  @Label("the first of any number of close requests wins with its reason and side; the rest are suppressed")
  void theFirstOfAnyNumberOfCloseRequestsWinsWithItsReasonAndSideAndTheRestAreSuppressed(
    @ForAll("requestsForOneId") List<Close> requests) {
    ConnectionTable table = new ConnectionTable();
    long id = requests.get(0).id();
    table.open(new ConnectionInfo(id, "default", "127.0.0.1:1", 0, 0), "owner");
    int ordered = 0;
    for (Close c : requests) {
      if (table.requestClose(new CloseRequest(c.id(), c.reason(), c.side(), c.detail()), 0)
        == ConnectionTable.Decision.ORDER_RELEASE) {
        ordered++;
      }
    }
    Close first = requests.get(0);
    assertThat(ordered).isEqualTo(1);
    ConnectionTable.Entry e = table.released(id);
    assertThat(e).isNotNull();
    assertThat(e.reason()).isEqualTo(first.reason());
    assertThat(e.side()).isEqualTo(first.side());
    assertThat(e.detail()).isEqualTo(first.detail());
    assertThat(table.released(id)).as("second ack").isNull();
    assertThat(table.requestClose(new CloseRequest(id, first.reason(), first.side(), "late"), 0))
      .as("request after the release").isEqualTo(ConnectionTable.Decision.SUPPRESSED);
  }

  @Provide
  Arbitrary<List<Close>> requestsForOneId() {
    return ids().flatMap(id -> closes(Arbitraries.just(id)).list().ofMinSize(1).ofMaxSize(40));
  }

  // ---- the same machine as a jqwik action chain: actions chosen from the current state ----------------------

  @Property(tries = 100)
  @Label("an action chain biased by the current state keeps every lifecycle invariant")
  void anActionChainBiasedByTheCurrentStateKeepsEveryLifecycleInvariant(
    @ForAll("chains") ActionChain<TableUnderTest> chain) {
    TableUnderTest end = chain.withInvariant("model agrees with the table", TableUnderTest::checkInvariants).run();
    end.finish();
  }

  @Provide
  Arbitrary<ActionChain<TableUnderTest>> chains() {
    return clockStarts().flatMap(start -> ActionChain.<TableUnderTest>startWith(() -> new TableUnderTest(start))
      .withAction(3, new EventAction("open", s -> opens(ids())))
      .withAction(3, new EventAction("close any id", s -> closes(ids())))
      .withAction(3, new EventAction("close a known id", s -> closes(known(s))))
      .withAction(2, new EventAction("ack any id", s -> ids().map(Ack::new)))
      .withAction(3, new EventAction("ack a CLOSING id", s -> closingOrAny(s).map(Ack::new)))
      .withAction(2, new EventAction("advance the clock", s -> advances()))
      .withAction(2, new EventAction("watchdog", s -> watchdogs()))
      .withMaxTransformations(80));
  }

  /** Ids currently in the table, or any id when it is empty. */
  private static Arbitrary<Long> known(TableUnderTest s) {
    List<Long> inTable = s.table.entries().stream().map(e -> e.info().id()).toList();
    return inTable.isEmpty() ? ids() : Arbitraries.of(inTable);
  }

  private static Arbitrary<Long> closingOrAny(TableUnderTest s) {
    List<Long> closing = s.table.entries().stream().filter(e -> e.state() == ConnectionTable.State.CLOSING)
      .map(e -> e.info().id()).toList();
    return closing.isEmpty() ? ids() : Arbitraries.of(closing);
  }

  /** One event, generated from the state, applied to table and model together. */
  private record EventAction(String name, java.util.function.Function<TableUnderTest, Arbitrary<? extends Event>> gen)
    implements Action.Dependent<TableUnderTest> {

    @Override
    public Arbitrary<Transformer<TableUnderTest>> transformer(TableUnderTest state) {
      return gen.apply(state).map(e -> Transformer.mutate(name + " " + e, s -> s.apply(e)));
    }
  }
}
