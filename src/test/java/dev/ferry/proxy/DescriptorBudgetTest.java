package dev.ferry.proxy;

import dev.ferry.config.FerryOptions;
import dev.ferry.config.UpstreamAddress;
import dev.ferry.support.FerryHarness;
import io.netty.channel.ChannelException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ConnectException;

import static org.assertj.core.api.Assertions.assertThat;

/** limits.max-connections against the descriptor limit: the arithmetic, the start-up line and the LIMIT detail. */
class DescriptorBudgetTest {

  private static final UpstreamAddress DB = new UpstreamAddress("10.0.0.1", 5432);

  private static FerryOptions options(int maxConnections) {
    return FerryHarness.options(DB).set("instances", 2).set("admin.max-connections", 10)
      .set("limits.max-connections", maxConnections).options();
  }

  @Test
  void lowersMaxConnectionsToHalfOfWhatIsLeftAfterTheReservedDescriptorsAndSaysSoNamingTheNumbers() {
    // reserved = 40 open + 2 listening (1 route x 2 instances) + 11 admin + 2 resolver + 0 checks + 32 slack = 87
    DescriptorBudget b = DescriptorBudget.of(options(10_000), 1024, 40, false);
    assertThat(b.reserved()).isEqualTo(87);
    assertThat(b.perConnection()).isEqualTo(2);
    assertThat(b.effectiveMaxConnections()).isEqualTo((1024 - 87) / 2);
    assertThat(b.lowered()).isTrue();
    assertThat(b.needed()).isEqualTo(87 + 20_000);
    assertThat(b.describe()).startsWith("!!! descriptor limit (RLIMIT_NOFILE, ulimit -n) 1024, 87 reserved: 40 open now, "
        + "2 listening, 11 admin, 2 resolver, 0 health check, 32 slack; 2 per connection")
      .contains("room for 468 connections, but limits.max-connections is 10000 (needs 20087 descriptors)")
      .contains("limits.max-connections lowered to 468").contains("Raise ulimit -n to 20087 or more");
    assertThat(b.refusalDetail()).isEqualTo("over limits.max-connections (468, 10000 lowered to fit the descriptor "
      + "limit 1024)");
  }

  @Test
  void keepsAConfiguredLimitThatFits() {
    DescriptorBudget b = DescriptorBudget.of(options(400), 1024, 40, false);
    assertThat(b.lowered()).isFalse();
    assertThat(b.effectiveMaxConnections()).isEqualTo(400);
    assertThat(b.describe()).doesNotContain("!!!").endsWith("room for 468 connections; limits.max-connections 400 fits");
    assertThat(b.refusalDetail()).isEqualTo("over limits.max-connections (400)");
  }

  @Test
  void boundsUnlimitedByTheDescriptors() {
    DescriptorBudget b = DescriptorBudget.of(options(0), 1024, 40, false);
    assertThat(b.lowered()).as("0 asks for no particular number").isFalse();
    assertThat(b.effectiveMaxConnections()).isEqualTo(468);
    assertThat(b.describe()).endsWith("limits.max-connections 0 (unlimited) is bounded at 468 connections");
    assertThat(b.refusalDetail()).isEqualTo("over limits.max-connections (468, unlimited lowered to fit the "
      + "descriptor limit 1024)");
  }

  @Test
  void countsThreeDescriptorsPerConnectionToTheEmbeddedEchoAndASocketPerActivelyCheckedUpstream() {
    FerryOptions checked = FerryHarness.options(DB, new UpstreamAddress("10.0.0.2", 5432)).set("instances", 1)
      .set("admin.max-connections", 10).set("health.active.enabled", true).options();
    DescriptorBudget b = DescriptorBudget.of(checked, 1024, 40, false);
    assertThat(b.reserved()).isEqualTo(40 + 1 + 11 + 1 + 2 + 32);
    DescriptorBudget echo = DescriptorBudget.of(FerryHarness.options().set("instances", 1).options(), 1024, 40, true);
    assertThat(echo.perConnection()).isEqualTo(3);
  }

  @Test
  void admitsAtLeastOneConnectionUnderALimitBelowTheReserve() {
    DescriptorBudget b = DescriptorBudget.of(options(10_000), 64, 40, false);
    assertThat(b.effectiveMaxConnections()).isEqualTo(1);
    assertThat(b.describe()).contains("lowered to 1");
  }

  @Test
  void leavesTheLimitAloneWhereTheDescriptorLimitIsUnknown() {
    DescriptorBudget b = DescriptorBudget.of(options(10_000), -1, -1, false);
    assertThat(b.known()).isFalse();
    assertThat(b.effectiveMaxConnections()).isEqualTo(10_000);
    assertThat(DescriptorBudget.of(options(0), -1, -1, false).effectiveMaxConnections()).as("unlimited").isZero();
    assertThat(b.describe()).startsWith("descriptor limit unknown");
  }

  @Test
  void recognisesEmfileAndEnfileFromEpollAndTheJdkAsOutOfDescriptors() {
    assertThat(DescriptorBudget.outOfDescriptors(new IOException("accept(..) failed with error(-24): Too many open files")))
      .isTrue();
    assertThat(DescriptorBudget.outOfDescriptors(new ChannelException("Unable to create Channel from class x",
      new IOException("socket(..) failed with error(-23): Too many open files in system")))).as("nested").isTrue();
    assertThat(DescriptorBudget.outOfDescriptors(new ConnectException("Connection refused"))).isFalse();
    assertThat(DescriptorBudget.outOfDescriptors(new IllegalStateException())).as("no message").isFalse();
  }
}
