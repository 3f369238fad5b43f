package dev.ferry.upstream;

import dev.ferry.config.ActiveHealthOptions;
import dev.ferry.config.PassiveHealthOptions;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The health state machine driven with explicit times: rise/fall, ejection, backoff, probation, decay, drain. */
class HealthStateTest {

  private static final long S = 1_000_000_000L;
  private static final PassiveHealthOptions PASSIVE =
    new PassiveHealthOptions(3, Duration.ofSeconds(10), Duration.ofMinutes(5));
  private static final ActiveHealthOptions ACTIVE = ActiveHealthOptions.DEFAULTS.withEnabled(true);

  private static HealthState state() {
    return new HealthState(PASSIVE, ACTIVE);
  }

  @Test
  void aNewUpstreamIsUpButOneFailedCheckTakesItDown() {
    HealthState h = state();
    assertThat(h.up()).isTrue();
    assertThat(h.eligible(0)).isTrue();

    h.checkFailed(0);

    assertThat(h.up()).isFalse();
    assertThat(h.eligible(0)).isFalse();
  }

  @Test
  void healthFlapsFollowRiseAndFallExactly() {
    HealthState h = state(); // rise 2, fall 3
    List<Boolean> ups = new ArrayList<>();
    String script = "P FFF P F PP FF P FF F PP";
    for (char c : script.replace(" ", "").toCharArray()) {
      if (c == 'P') {
        h.checkPassed(0);
      } else {
        h.checkFailed(0);
      }
      ups.add(h.up());
    }
    // P: full UP; F F: still up (fall 3); F: down; P: 1 of 2; F: count restarts; P P: up;
    // F F: up; P: full again; F F: up; F: down (third in a row); P P: up.
    assertThat(ups).containsExactly(
      true, true, true, false,
      false,
      false,
      false, true,
      true, true,
      true,
      true, true,
      false,
      false, true);
  }

  @Test
  void riseAndFallOfOneFlipOnEveryChange() {
    HealthState h = new HealthState(PASSIVE, new ActiveHealthOptions(true, Duration.ofSeconds(1), null, 1, 1, null,
      null));
    h.checkPassed(0);
    h.checkFailed(0);
    assertThat(h.up()).isFalse();
    h.checkPassed(0);
    assertThat(h.up()).isTrue();
  }

  @Test
  void checksChangeNothingWhileActiveChecksAreOff() {
    HealthState h = new HealthState(PASSIVE, ActiveHealthOptions.DEFAULTS);
    for (int i = 0; i < 10; i++) {
      h.checkFailed(0);
    }
    assertThat(h.up()).isTrue();
    assertThat(h.eligible(0)).isTrue();
  }

  @Test
  void ejectsAnUpstreamAfterMaxFailsConsecutiveConnectFailures() {
    HealthState h = state();
    h.connectFailed(0);
    h.connectFailed(1);
    assertThat(h.ejected(1)).isFalse();

    h.connectFailed(2);

    assertThat(h.ejected(2)).isTrue();
    assertThat(h.eligible(2)).isFalse();
    assertThat(h.ejectedUntil()).isEqualTo(2 + 10 * S);
    assertThat(h.ejections()).isEqualTo(1);
    assertThat(h.ejected(2 + 10 * S - 1)).isTrue();
    assertThat(h.ejected(2 + 10 * S)).as("eligible again when the ejection expires").isFalse();
    assertThat(h.eligible(2 + 10 * S)).isTrue();
  }

  @Test
  void aSuccessRestartsTheRunOfFailures() {
    HealthState h = state();
    h.connectFailed(0);
    h.connectFailed(0);
    h.connectSucceeded(0);
    h.connectFailed(0);
    h.connectFailed(0);
    assertThat(h.ejected(0)).isFalse();
    assertThat(h.consecutiveFailures()).isEqualTo(2);
  }

  @Test
  void ejectionBackoffDoublesWithEachEjectionInARowAndIsCapped() {
    HealthState h = state();
    long now = 0;
    for (int i = 0; i < 3; i++) {
      h.connectFailed(now);
    }
    List<Long> seconds = new ArrayList<>();
    for (int k = 0; k < 8; k++) {
      assertThat(h.ejected(now)).isTrue();
      seconds.add((h.ejectedUntil() - now) / S);
      now = h.ejectedUntil();
      // Back from ejection: on probation, the first failure ejects again.
      h.connectFailed(now);
    }
    assertThat(seconds).containsExactly(10L, 20L, 40L, 80L, 160L, 300L, 300L, 300L);
  }

  @Test
  void anUpstreamBackFromEjectionIsOnProbationUntilItSucceeds() {
    HealthState h = state();
    for (int i = 0; i < 3; i++) {
      h.connectFailed(0);
    }
    long back = h.ejectedUntil();
    h.connectSucceeded(back);
    h.connectFailed(back + 1);
    assertThat(h.ejected(back + 1)).as("after a success, a single failure does not eject").isFalse();
  }

  @Test
  void aFailureDuringAnEjectionDoesNotExtendIt() {
    HealthState h = state();
    for (int i = 0; i < 3; i++) {
      h.connectFailed(0);
    }
    long until = h.ejectedUntil();
    h.connectFailed(5 * S);
    assertThat(h.ejectedUntil()).isEqualTo(until);
    assertThat(h.ejections()).isEqualTo(1);
  }

  @Test
  void aSuccessOrAPassedCheckEndsAnEjectionAtOnce() {
    HealthState h = state();
    for (int i = 0; i < 3; i++) {
      h.connectFailed(0);
    }
    h.connectSucceeded(S);
    assertThat(h.ejected(S)).isFalse();
    assertThat(h.consecutiveFailures()).isZero();

    for (int i = 0; i < 3; i++) {
      h.connectFailed(2 * S);
    }
    assertThat(h.ejected(2 * S)).isTrue();
    h.checkPassed(3 * S);
    assertThat(h.ejected(3 * S)).isFalse();
  }

  @Test
  void aFailedCheckIsNotAConnectFailure() {
    HealthState h = new HealthState(new PassiveHealthOptions(1, Duration.ofSeconds(10), Duration.ofMinutes(5)),
      new ActiveHealthOptions(true, Duration.ofSeconds(1), null, 1, 5, null, null));
    h.checkPassed(0);
    h.checkFailed(0);
    assertThat(h.ejected(0)).isFalse();
    assertThat(h.consecutiveFailures()).isZero();
  }

  @Test
  void theMultiplierDecaysByOneForEachEjectionTimeOutOfEjection() {
    HealthState h = state();
    long now = 0;
    for (int i = 0; i < 3; i++) {
      h.connectFailed(now);
    }
    now = h.ejectedUntil();          // k=1 ended
    h.connectFailed(now);            // k=2: 20 s
    now = h.ejectedUntil();
    h.connectFailed(now);            // k=3: 40 s
    now = h.ejectedUntil();
    assertThat(h.level()).isEqualTo(3);
    h.connectSucceeded(now);
    // 25 s out of ejection = 2 full ejection-times: k decays from 3 to 1, the next ejection is rank 2 (20 s).
    now += 25 * S;
    for (int i = 0; i < 3; i++) {
      h.connectFailed(now);
    }
    assertThat(h.level()).isEqualTo(2);
    assertThat(h.ejectedUntil() - now).isEqualTo(20 * S);
  }

  @Test
  void aLongQuietSpellStartsTheBackoffOver() {
    HealthState h = state();
    for (int i = 0; i < 3; i++) {
      h.connectFailed(0);
    }
    long now = h.ejectedUntil() + 3600 * S;
    h.connectFailed(now);
    assertThat(h.ejectedUntil() - now).isEqualTo(10 * S);
  }

  @Test
  void maxFailsZeroNeverEjects() {
    HealthState h = new HealthState(new PassiveHealthOptions(0, Duration.ofSeconds(10), Duration.ofMinutes(5)),
      ACTIVE);
    for (int i = 0; i < 1000; i++) {
      h.connectFailed(i);
    }
    assertThat(h.ejected(1000)).isFalse();
    assertThat(h.ejections()).isZero();
  }

  @Test
  void aDrainedUpstreamIsHealthyButNotEligibleUntilReady() {
    HealthState h = state();
    h.drain();
    assertThat(h.healthy(0)).isTrue();
    assertThat(h.eligible(0)).isFalse();
    h.ready();
    assertThat(h.eligible(0)).isTrue();
  }

  @Test
  void newOptionsKeepTheFailureRunAndTheEjection() {
    HealthState h = state();
    for (int i = 0; i < 3; i++) {
      h.connectFailed(0);
    }
    long until = h.ejectedUntil();
    h.options(new PassiveHealthOptions(5, Duration.ofSeconds(1), Duration.ofSeconds(2)), ACTIVE, 1);
    assertThat(h.ejected(1)).isTrue();
    assertThat(h.ejectedUntil()).isEqualTo(until);
    assertThat(h.consecutiveFailures()).isEqualTo(3);

    h.options(new PassiveHealthOptions(0, Duration.ofSeconds(1), Duration.ofSeconds(2)), ACTIVE, 1);
    assertThat(h.ejected(1)).as("max-fails 0 ends the ejection").isFalse();
  }

  @Test
  void turningActiveChecksOnStartsFromTheFragileUp() {
    HealthState h = new HealthState(PASSIVE, ActiveHealthOptions.DEFAULTS);
    h.options(PASSIVE, ACTIVE, 1);
    assertThat(h.up()).isTrue();
    h.checkFailed(0);
    assertThat(h.up()).isFalse();

    h.options(PASSIVE, new ActiveHealthOptions(true, Duration.ofSeconds(2), null, 5, 3, null, null), 1);
    assertThat(h.up()).as("a DOWN upstream stays DOWN when rise changes").isFalse();
    h.options(PASSIVE, ActiveHealthOptions.DEFAULTS, 1);
    assertThat(h.up()).as("checks off: counts as up").isTrue();
  }

  @Test
  void ejectionsCountAcrossTheNanoClockWrap() {
    HealthState h = state();
    long now = Long.MAX_VALUE - 5 * S;
    for (int i = 0; i < 3; i++) {
      h.connectFailed(now);
    }
    assertThat(h.ejected(now + 9 * S)).as("9 s later, past the wrap").isTrue();
    assertThat(h.ejected(now + 10 * S)).isFalse();
  }

  @Test
  void ejectionLengthSaturatesWithoutOverflow() {
    assertThat(HealthState.ejectionNanos(32, Long.MAX_VALUE / 3, Long.MAX_VALUE)).isEqualTo(Long.MAX_VALUE);
    assertThat(HealthState.ejectionNanos(1, 5, 7)).isEqualTo(5);
    assertThat(HealthState.ejectionNanos(2, 5, 7)).isEqualTo(7);
  }
}
