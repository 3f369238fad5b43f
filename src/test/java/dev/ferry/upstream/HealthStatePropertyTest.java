package dev.ferry.upstream;

import dev.ferry.config.ActiveHealthOptions;
import dev.ferry.config.PassiveHealthOptions;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Label;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Property tests of {@link HealthState}: random sequences of connect outcomes, check results, drains, reloads and
 * clock advances (small and large against the ejection time, from anywhere on the nano clock, including just
 * before it wraps), checked after every step against a reference model written from the rules in a different
 * form: the active side as run lengths (a pass streak, a fail streak, a "fragile" flag) instead of HAProxy's
 * counter, the passive side as a list of ejections with explicit start and end times. jqwik prints the seed and
 * the shrunk sequence of any failure.
 */
class HealthStatePropertyTest {

  private static final long BASE = 1_000_000;
  private static final long CAP = 8_000_000;

  sealed interface Event permits ConnectOk, ConnectFail, CheckPass, CheckFail, Drain, Ready, Advance, Reload {
  }

  record ConnectOk() implements Event {
  }

  record ConnectFail() implements Event {
  }

  record CheckPass() implements Event {
  }

  record CheckFail() implements Event {
  }

  record Drain() implements Event {
  }

  record Ready() implements Event {
  }

  record Advance(long nanos) implements Event {
  }

  /** New options: max-fails and active rise/fall/on; the ejection times stay, so the model's arithmetic holds. */
  record Reload(int maxFails, boolean activeOn, int rise, int fall) implements Event {
  }

  /** One ejection as the model records it: when it started, its rank, when it ends or ended. */
  private static final class Ejection {
    final long start;
    final int rank;
    long end;

    Ejection(long start, int rank, long end) {
      this.start = start;
      this.rank = rank;
      this.end = end;
    }
  }

  /** The reference model; time is elapsed nanos that never wrap. */
  static final class Model {
    int maxFails;
    boolean activeOn;
    int rise;
    int fall;
    boolean draining;
    // active, as run lengths
    boolean up = true;
    boolean fragile = true;
    int passStreak;
    int failStreak;
    // passive
    int failRun;
    final List<Ejection> ejections = new ArrayList<>();

    Ejection current(long t) {
      if (ejections.isEmpty()) {
        return null;
      }
      Ejection last = ejections.get(ejections.size() - 1);
      return t < last.end ? last : null;
    }

    boolean ejected(long t) {
      return current(t) != null;
    }

    boolean upNow() {
      return !activeOn || up;
    }

    boolean eligible(long t) {
      return !draining && upNow() && !ejected(t);
    }

    void connectFailed(long t) {
      failRun++;
      if (maxFails > 0 && !ejected(t) && failRun >= maxFails) {
        int rank = 1;
        if (!ejections.isEmpty()) {
          Ejection last = ejections.get(ejections.size() - 1);
          long quietSpells = (t - last.end) / BASE;
          rank = (int) Math.max(0, last.rank - quietSpells) + 1;
        }
        long d = BASE;
        for (int i = 1; i < rank; i++) {
          d = Math.min(CAP, d * 2);
        }
        ejections.add(new Ejection(t, rank, t + d));
      }
    }

    void succeeded(long t) {
      failRun = 0;
      Ejection e = current(t);
      if (e != null) {
        e.end = t;
      }
    }

    void checkPassed(long t) {
      succeeded(t);
      if (!activeOn) {
        return;
      }
      failStreak = 0;
      if (up) {
        fragile = false;
      } else if (++passStreak == rise) {
        up = true;
        fragile = false;
        passStreak = 0;
      }
    }

    void checkFailed() {
      if (!activeOn) {
        return;
      }
      passStreak = 0;
      if (up) {
        failStreak++;
        if (fragile || failStreak >= fall) {
          up = false;
          failStreak = 0;
        }
      }
    }

    void reload(Reload r, long t) {
      boolean wasOn = activeOn;
      int oldFall = fall;
      maxFails = r.maxFails();
      activeOn = r.activeOn();
      rise = r.rise();
      fall = r.fall();
      if (!activeOn || !wasOn) {
        up = true;
        fragile = true;
        passStreak = 0;
        failStreak = 0;
      } else if (up) {
        // The failed checks it still takes to go down are kept, at most the new fall.
        int tolerance = Math.min(fragile ? 1 : oldFall - failStreak, fall);
        fragile = false;
        failStreak = fall - tolerance;
      } else {
        passStreak = Math.min(passStreak, rise - 1);
      }
      if (maxFails == 0) {
        Ejection e = current(t);
        if (e != null) {
          e.end = t;
        }
      }
    }
  }

  static final class Run {
    final long start;
    long elapsed;
    final HealthState state;
    final Model model = new Model();
    final List<Event> history = new ArrayList<>();

    Run(long start, Reload initial) {
      this.start = start;
      this.state = new HealthState(passive(initial.maxFails()), active(initial));
      model.reload(initial, 0);
    }

    long now() {
      return start + elapsed;
    }

    void apply(Event e) {
      history.add(e);
      long ejectionsBefore = state.ejections();
      long untilBefore = state.ejectedUntil();
      boolean wasEjected = state.ejected(now());
      if (e instanceof ConnectOk) {
        state.connectSucceeded(now());
        model.succeeded(elapsed);
      } else if (e instanceof ConnectFail) {
        state.connectFailed(now());
        model.connectFailed(elapsed);
      } else if (e instanceof CheckPass) {
        state.checkPassed(now());
        model.checkPassed(elapsed);
      } else if (e instanceof CheckFail) {
        state.checkFailed(now());
        model.checkFailed();
      } else if (e instanceof Drain) {
        state.drain();
        model.draining = true;
      } else if (e instanceof Ready) {
        state.ready();
        model.draining = false;
      } else if (e instanceof Advance a) {
        elapsed += a.nanos();
      } else if (e instanceof Reload r) {
        state.options(passive(r.maxFails()), active(r), now());
        model.reload(r, elapsed);
      }
      long ejectionsAfter = state.ejections();
      assertThat(ejectionsAfter - ejectionsBefore).as("at most one ejection per event; %s", history)
        .isBetween(0L, 1L);
      if (ejectionsAfter > ejectionsBefore) {
        assertThat(e).as("only a connect failure ejects").isInstanceOf(ConnectFail.class);
        assertThat(wasEjected).as("never ejected while ejected; %s", history).isFalse();
        assertThat(state.consecutiveFailures()).isGreaterThanOrEqualTo(model.maxFails).isPositive();
        long length = state.ejectedUntil() - now();
        assertThat(length).as("ejection length within [base, cap]").isBetween(BASE, CAP);
      } else if (wasEjected && state.ejected(now())) {
        assertThat(state.ejectedUntil()).as("an ejection is never extended; %s", history).isEqualTo(untilBefore);
      }
      check();
    }

    void check() {
      long t = now();
      assertThat(state.eligible(t)).as("eligible after %s", history).isEqualTo(model.eligible(elapsed));
      assertThat(state.ejected(t)).as("ejected after %s", history).isEqualTo(model.ejected(elapsed));
      assertThat(state.up()).as("up after %s", history).isEqualTo(model.upNow());
      assertThat(state.draining()).isEqualTo(model.draining);
      assertThat(state.consecutiveFailures()).as("failure run after %s", history).isEqualTo(model.failRun);
      assertThat(state.ejections()).as("ejections after %s", history).isEqualTo(model.ejections.size());
      if (model.ejected(elapsed)) {
        assertThat(state.ejectedUntil() - start).as("until after %s", history)
          .isEqualTo(model.current(elapsed).end);
      }
      assertThat(state.eligible(t)).isEqualTo(!state.draining() && state.up() && !state.ejected(t));
      assertThat(state.healthy(t)).isEqualTo(state.up() && !state.ejected(t));
      if (state.activeChecks()) {
        assertThat(state.checkHealth()).isBetween(0, model.rise + model.fall - 1);
      }
    }
  }

  private static PassiveHealthOptions passive(int maxFails) {
    return new PassiveHealthOptions(maxFails, Duration.ofNanos(BASE), Duration.ofNanos(CAP));
  }

  private static ActiveHealthOptions active(Reload r) {
    return new ActiveHealthOptions(r.activeOn(), Duration.ofSeconds(1), null, r.rise(), r.fall(), null, null);
  }

  // ---- generators -------------------------------------------------------------------------------------------

  private static Arbitrary<Reload> reloads() {
    return Combinators.combine(Arbitraries.integers().between(0, 4), Arbitraries.of(true, false),
      Arbitraries.integers().between(1, 4), Arbitraries.integers().between(1, 4)).as(Reload::new);
  }

  private static Arbitrary<Event> events() {
    return Arbitraries.frequencyOf(
      Tuple.of(4, Arbitraries.just(new ConnectOk())),
      Tuple.of(10, Arbitraries.just(new ConnectFail())),
      Tuple.of(5, Arbitraries.just(new CheckPass())),
      Tuple.of(5, Arbitraries.just(new CheckFail())),
      Tuple.of(1, Arbitraries.just(new Drain())),
      Tuple.of(1, Arbitraries.just(new Ready())),
      Tuple.of(5, Arbitraries.longs().between(0, 3 * BASE).map(Advance::new)),
      Tuple.of(2, Arbitraries.longs().between(0, 12 * CAP).map(Advance::new)),
      Tuple.of(1, reloads()));
  }

  @Provide
  Arbitrary<List<Event>> sequences() {
    return events().list().ofMaxSize(200);
  }

  @Provide
  Arbitrary<Long> starts() {
    return Arbitraries.oneOf(Arbitraries.longs(), Arbitraries.longs().between(Long.MAX_VALUE - 20 * CAP,
      Long.MAX_VALUE), Arbitraries.just(0L));
  }

  @Provide
  Arbitrary<Reload> initial() {
    return reloads();
  }

  @Property(tries = 500)
  @Label("any sequence of connects, checks, drains, reloads and time agrees with the reference model")
  void anySequenceOfConnectsChecksDrainsReloadsAndTimeAgreesWithTheReferenceModel(
    @ForAll("sequences") List<Event> events, @ForAll("starts") long start, @ForAll("initial") Reload initial) {
    Run run = new Run(start, initial);
    run.check();
    for (Event e : events) {
      run.apply(e);
    }
    // Whatever happened, time ends every ejection and a success makes a ready upstream with checks off eligible.
    run.apply(new Advance(CAP));
    run.apply(new Reload(initial.maxFails(), false, 1, 1));
    run.apply(new Ready());
    run.apply(new ConnectOk());
    assertThat(run.state.eligible(run.now())).isTrue();
  }

  @Property(tries = 300)
  @Label("with checks on, UP turns DOWN after fall failed checks in a row and back UP after rise passed ones")
  void withChecksOnUpTurnsDownAfterFallFailedChecksInARowAndBackUpAfterRisePassedOnes(
    @ForAll("checkResults") List<Boolean> results, @ForAll("riseFall") int rise, @ForAll("riseFall") int fall) {
    HealthState s = new HealthState(passive(0), new ActiveHealthOptions(true, Duration.ofSeconds(1), null, rise,
      fall, null, null));
    boolean wasUp = true;
    boolean fragile = true;
    int passes = 0;
    int fails = 0;
    for (boolean pass : results) {
      if (pass) {
        s.checkPassed(0);
        passes++;
        fails = 0;
      } else {
        s.checkFailed(0);
        fails++;
        passes = 0;
      }
      if (s.up() != wasUp) {
        if (s.up()) {
          assertThat(passes).as("UP after exactly rise passes in a row; %s", results).isEqualTo(rise);
        } else {
          assertThat(fails).as("DOWN after fall failures in a row (1 from the start); %s", results)
            .isEqualTo(fragile ? 1 : fall);
        }
        passes = 0;
        fails = 0;
        fragile = false;
        wasUp = s.up();
      } else if (s.up() && pass) {
        fragile = false;
      }
      if (s.up() && !fragile) {
        assertThat(fails).as("an UP upstream has seen fewer than fall failures in a row").isLessThan(fall);
      }
      if (!s.up()) {
        assertThat(passes).as("a DOWN upstream has seen fewer than rise passes in a row").isLessThan(rise);
      }
    }
  }

  @Provide
  Arbitrary<List<Boolean>> checkResults() {
    return Arbitraries.of(true, false).list().ofMaxSize(100);
  }

  @Provide
  Arbitrary<Integer> riseFall() {
    return Arbitraries.integers().between(1, 5);
  }
}
