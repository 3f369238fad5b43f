package dev.ferry.registry;

import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ConnectionTableTest {

  private final ConnectionTable table = new ConnectionTable();

  private static ConnectionInfo info(long id) {
    return new ConnectionInfo(id, "default", "127.0.0.1:5", 0, 0);
  }

  @Test
  void firstCloseRequestWinsAndOrdersTheRelease() {
    table.open(info(1), "owner");
    assertThat(table.requestClose(new CloseRequest(1, CloseReason.PEER_RESET, Side.CLIENT, "x"), 10))
      .isEqualTo(ConnectionTable.Decision.ORDER_RELEASE);
    assertThat(table.requestClose(new CloseRequest(1, CloseReason.IDLE_TIMEOUT, Side.PROXY, "y"), 11))
      .isEqualTo(ConnectionTable.Decision.SUPPRESSED);
    assertThat(table.get(1).reason()).isEqualTo(CloseReason.PEER_RESET);
    assertThat(table.get(1).side()).isEqualTo(Side.CLIENT);
    assertThat(table.get(1).state()).isEqualTo(ConnectionTable.State.CLOSING);
  }

  @Test
  void acceptsOneAckPerOrderedReleaseAndForgetsTheId() {
    table.open(info(2), "owner");
    table.requestClose(new CloseRequest(2, CloseReason.SHUTDOWN, Side.PROXY, ""), 0);
    assertThat(table.released(2)).isNotNull();
    assertThat(table.released(2)).as("second ack").isNull();
    assertThat(table.size()).isZero();
    assertThat(table.requestClose(new CloseRequest(2, CloseReason.PEER_CLOSED, Side.CLIENT, ""), 0))
      .as("request for an id already gone").isEqualTo(ConnectionTable.Decision.SUPPRESSED);
  }

  @Test
  void rejectsAnAckWithoutAnOrder() {
    table.open(info(3), "owner");
    assertThat(table.released(3)).isNull();
    assertThat(table.get(3).state()).isEqualTo(ConnectionTable.State.OPEN);
  }

  @Test
  void reportsAnOverdueReleaseOnce() {
    table.open(info(4), "owner");
    table.requestClose(new CloseRequest(4, CloseReason.IO_ERROR, Side.UPSTREAM, ""), 100);
    assertThat(table.overdue(150, 100)).isEmpty();
    assertThat(table.overdue(201, 100)).extracting(e -> e.info().id()).containsExactly(4L);
    assertThat(table.overdue(500, 100)).isEmpty();
  }

  @Test
  void listsEveryConnectionNotYetReleased() {
    table.open(info(6), "owner");
    table.open(info(7), "owner");
    table.open(info(8), "owner");
    table.requestClose(new CloseRequest(7, CloseReason.ADMIN_KILL, Side.PROXY, ""), 0);
    table.requestClose(new CloseRequest(8, CloseReason.ADMIN_KILL, Side.PROXY, ""), 0);
    table.released(8);
    assertThat(table.entries()).extracting(e -> e.info().id() + " " + e.state())
      .containsExactlyInAnyOrder("6 OPEN", "7 CLOSING");
  }

  @Test
  void refusesASecondOpenOfTheSameId() {
    assertThat(table.open(info(5), "a")).isTrue();
    assertThat(table.open(info(5), "b")).isFalse();
    assertThat(table.get(5).owner()).isEqualTo("a");
  }

  @Test
  void aRouteNotFinalAtTheOpenIsCountedOnceWhenItIsChosen() {
    assertThat(table.open(info(9), "owner", false)).isTrue();
    assertThat(table.open(info(9), "other", true)).as("a second open").isFalse();
    assertThat(table.get(9).routeCounted()).isFalse();
    assertThat(table.routeFinal(9)).isTrue();
    assertThat(table.get(9).routeCounted()).isTrue();
    assertThat(table.routeFinal(9)).as("counted once").isFalse();
    assertThat(table.routeFinal(10)).as("an unknown id").isFalse();
  }

  @Test
  void aRouteFinalAtTheOpenIsCountedAlready() {
    table.open(info(11), "owner", true);
    table.open(info(12), "owner");
    assertThat(table.get(11).routeCounted()).isTrue();
    assertThat(table.get(12).routeCounted()).isTrue();
    assertThat(table.routeFinal(11)).isFalse();
    assertThat(table.routeFinal(12)).isFalse();
  }
}
