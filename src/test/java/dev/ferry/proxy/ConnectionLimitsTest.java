package dev.ferry.proxy;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ConnectionLimits} on its own: the admission arithmetic behind {@code LIMIT} (the end-to-end path is
 * {@link ConnectionLimitTest}, what one connection took is {@link AdmissionTest}). The total and the per-source
 * counts are taken and given back separately, because a PROXY header names the client after the accept. Each test
 * fills a limit exactly, checks the next one is refused, and that a refusal takes nothing and a release gives back
 * exactly one place.
 */
class ConnectionLimitsTest {

  @Test
  void admitsUpToMaxTotalAndRefusesTheNext() {
    ConnectionLimits limits = new ConnectionLimits(2, 0);
    assertThat(limits.admitTotal()).isTrue();
    assertThat(limits.admitTotal()).isTrue();
    assertThat(limits.admitTotal()).isFalse();
  }

  @Test
  void aRefusalOverTheTotalTakesNoPlace() {
    ConnectionLimits limits = new ConnectionLimits(1, 0);
    assertThat(limits.admitTotal()).isTrue();
    for (int i = 0; i < 3; i++) {
      assertThat(limits.admitTotal()).isFalse();
    }
    limits.releaseTotal();
    assertThat(limits.admitTotal()).as("the one place is free again, refusals took none").isTrue();
    assertThat(limits.admitTotal()).isFalse();
  }

  @Test
  void aReleaseGivesBackOnePlaceInTheTotal() {
    ConnectionLimits limits = new ConnectionLimits(2, 0);
    limits.admitTotal();
    limits.admitTotal();
    limits.releaseTotal();
    assertThat(limits.admitTotal()).isTrue();
    assertThat(limits.admitTotal()).as("one release frees one place, not more").isFalse();
  }

  @Test
  void zeroMeansUnlimited() {
    ConnectionLimits limits = new ConnectionLimits(0, 0);
    for (int i = 0; i < 1000; i++) {
      assertThat(limits.admitTotal()).isTrue();
      assertThat(limits.admitSource("10.0.0.1")).isTrue();
    }
  }

  @Test
  void admitsUpToMaxPerSourceFromOneAddressAndRefusesTheNext() {
    ConnectionLimits limits = new ConnectionLimits(0, 2);
    assertThat(limits.admitSource("10.0.0.1")).isTrue();
    assertThat(limits.admitSource("10.0.0.1")).isTrue();
    assertThat(limits.admitSource("10.0.0.1")).isFalse();
    assertThat(limits.admitSource("10.0.0.2")).as("another source has its own count").isTrue();
  }

  @Test
  void aRefusalPerSourceTakesNoPlace() {
    ConnectionLimits limits = new ConnectionLimits(0, 1);
    assertThat(limits.admitSource("10.0.0.1")).isTrue();
    assertThat(limits.admitSource("10.0.0.1")).isFalse();
    assertThat(limits.admitSource("10.0.0.1")).isFalse();
    limits.releaseSource("10.0.0.1");
    assertThat(limits.admitSource("10.0.0.1")).as("the refused ones hold no place").isTrue();
    assertThat(limits.admitSource("10.0.0.1")).isFalse();
  }

  @Test
  void theTotalAndTheSourcesAreCountedApart() {
    ConnectionLimits limits = new ConnectionLimits(1, 1);
    assertThat(limits.admitSource("10.0.0.1")).isTrue();
    assertThat(limits.admitTotal()).as("a source's place is not one of the total").isTrue();
    assertThat(limits.admitTotal()).isFalse();
    limits.releaseTotal();
    assertThat(limits.admitSource("10.0.0.1")).as("nor does the total's release free a source").isFalse();
  }

  @Test
  void aReleaseFreesOnePlaceOfItsSource() {
    ConnectionLimits limits = new ConnectionLimits(0, 2);
    limits.admitSource("10.0.0.1");
    limits.admitSource("10.0.0.1");
    limits.admitSource("10.0.0.2");
    limits.releaseSource("10.0.0.1");
    assertThat(limits.admitSource("10.0.0.1")).isTrue();
    assertThat(limits.admitSource("10.0.0.1")).as("one release frees one place, not more").isFalse();
    assertThat(limits.admitSource("10.0.0.2")).isTrue();
    assertThat(limits.admitSource("10.0.0.2")).as("nor a place of another source").isFalse();
  }

  @Test
  void theLastReleaseOfASourceLetsItStartAgainFromZero() {
    ConnectionLimits limits = new ConnectionLimits(0, 2);
    for (int round = 0; round < 3; round++) {
      assertThat(limits.admitSource("10.0.0.1")).as("round %d", round).isTrue();
      assertThat(limits.admitSource("10.0.0.1")).as("round %d", round).isTrue();
      assertThat(limits.admitSource("10.0.0.1")).isFalse();
      limits.releaseSource("10.0.0.1");
      limits.releaseSource("10.0.0.1");
    }
  }

  @Test
  void aReleaseOfASourceWithoutAPlaceTakesNothingFromTheNextOne() {
    ConnectionLimits limits = new ConnectionLimits(0, 1);
    limits.releaseSource("10.0.0.1");
    assertThat(limits.admitSource("10.0.0.1")).isTrue();
    assertThat(limits.admitSource("10.0.0.1")).as("no credit from the stray release").isFalse();
  }

  @Test
  void reportsItsConfiguredLimits() {
    ConnectionLimits limits = new ConnectionLimits(7, 3);
    assertThat(limits.maxTotal()).isEqualTo(7);
    assertThat(limits.maxPerSource()).isEqualTo(3);
  }
}
