package dev.ferry.proxy;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ConnectionLimits} on its own: the admission arithmetic behind {@code LIMIT} (the end-to-end path is
 * {@link ConnectionLimitTest}). Each test fills a limit exactly, checks the next client is refused for the right
 * reason, and that what a refusal or a release gives back is exactly one place.
 */
class ConnectionLimitsTest {

  @Test
  void admitsUpToMaxTotalAndRefusesTheNextWithTotal() {
    ConnectionLimits limits = new ConnectionLimits(2, 0);
    assertThat(limits.admit("10.0.0.1")).isNull();
    assertThat(limits.admit("10.0.0.2")).isNull();
    assertThat(limits.admit("10.0.0.3")).isEqualTo(ConnectionLimits.Refusal.TOTAL);
  }

  @Test
  void aRefusalOverTheTotalTakesNoPlace() {
    ConnectionLimits limits = new ConnectionLimits(1, 0);
    assertThat(limits.admit("10.0.0.1")).isNull();
    for (int i = 0; i < 3; i++) {
      assertThat(limits.admit("10.0.0.2")).isEqualTo(ConnectionLimits.Refusal.TOTAL);
    }
    limits.release("10.0.0.1");
    assertThat(limits.admit("10.0.0.2")).as("the one place is free again, refusals took none").isNull();
    assertThat(limits.admit("10.0.0.3")).isEqualTo(ConnectionLimits.Refusal.TOTAL);
  }

  @Test
  void zeroMeansUnlimited() {
    ConnectionLimits limits = new ConnectionLimits(0, 0);
    for (int i = 0; i < 1000; i++) {
      assertThat(limits.admit("10.0.0.1")).isNull();
    }
  }

  @Test
  void admitsUpToMaxPerSourceFromOneAddressAndRefusesTheNextWithSource() {
    ConnectionLimits limits = new ConnectionLimits(0, 2);
    assertThat(limits.admit("10.0.0.1")).isNull();
    assertThat(limits.admit("10.0.0.1")).isNull();
    assertThat(limits.admit("10.0.0.1")).isEqualTo(ConnectionLimits.Refusal.SOURCE);
    assertThat(limits.admit("10.0.0.2")).as("another source has its own count").isNull();
  }

  @Test
  void aRefusalPerSourceGivesBackItsPlaceInTheTotal() {
    ConnectionLimits limits = new ConnectionLimits(2, 1);
    assertThat(limits.admit("10.0.0.1")).isNull();
    assertThat(limits.admit("10.0.0.1")).isEqualTo(ConnectionLimits.Refusal.SOURCE);
    assertThat(limits.admit("10.0.0.1")).isEqualTo(ConnectionLimits.Refusal.SOURCE);
    assertThat(limits.admit("10.0.0.2")).as("the refused ones hold no place in the total").isNull();
    assertThat(limits.admit("10.0.0.3")).isEqualTo(ConnectionLimits.Refusal.TOTAL);
  }

  @Test
  void aReleaseFreesOnePlaceOfItsSource() {
    ConnectionLimits limits = new ConnectionLimits(0, 2);
    limits.admit("10.0.0.1");
    limits.admit("10.0.0.1");
    limits.release("10.0.0.1");
    assertThat(limits.admit("10.0.0.1")).isNull();
    assertThat(limits.admit("10.0.0.1")).as("one release frees one place, not more").isEqualTo(
      ConnectionLimits.Refusal.SOURCE);
  }

  @Test
  void theLastReleaseOfASourceLetsItStartAgainFromZero() {
    ConnectionLimits limits = new ConnectionLimits(0, 1);
    for (int round = 0; round < 3; round++) {
      assertThat(limits.admit("10.0.0.1")).as("round %d", round).isNull();
      assertThat(limits.admit("10.0.0.1")).isEqualTo(ConnectionLimits.Refusal.SOURCE);
      limits.release("10.0.0.1");
    }
  }

  @Test
  void aReleaseGivesBackItsPlaceInTheTotal() {
    ConnectionLimits limits = new ConnectionLimits(1, 1);
    assertThat(limits.admit("10.0.0.1")).isNull();
    limits.release("10.0.0.1");
    assertThat(limits.admit("10.0.0.2")).isNull();
    assertThat(limits.admit("10.0.0.3")).isEqualTo(ConnectionLimits.Refusal.TOTAL);
  }

  @Test
  void reportsItsConfiguredLimits() {
    ConnectionLimits limits = new ConnectionLimits(7, 3);
    assertThat(limits.maxTotal()).isEqualTo(7);
    assertThat(limits.maxPerSource()).isEqualTo(3);
  }
}
