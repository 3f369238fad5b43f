package dev.ferry.admin;

import dev.ferry.support.Await;
import dev.ferry.support.Backend;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.http.HttpResponse;

import static org.assertj.core.api.Assertions.assertThat;

class AdminApiTest {

  static Backend backend;
  static FerryHarness ferry;

  @BeforeAll
  static void start() throws Exception {
    backend = new Backend(Backend.HOLD);
    ferry = FerryHarness.start(FerryHarness.options(backend.address()));
  }

  @AfterAll
  static void stop() throws Exception {
    ferry.close();
    backend.close();
  }

  @Test
  void reportsLiveAndReady() throws Exception {
    assertThat(ferry.admin("GET", "/health/live").statusCode()).isEqualTo(200);
    HttpResponse<String> ready = ferry.admin("GET", "/health/ready");
    assertThat(ready.statusCode()).isEqualTo(200);
    assertThat(new JsonObject(ready.body()).getString("status")).isEqualTo("UP");
  }

  @Test
  void listsOpenConnectionsAndKillsOneThroughTheRegistry() throws Exception {
    int before = backend.accepted().size();
    Peer client = ferry.connect();
    client.write("hi");
    Peer upstream = backend.awaitAccepted(before + 1);
    upstream.readExactly(2);

    JsonObject entry = findByClientPort(client.localPort());
    assertThat(entry.getString("state")).isEqualTo("OPEN");
    assertThat(entry.getString("upstream")).isEqualTo(backend.address().toString());
    assertThat(entry.getLong("age_ms")).isNotNegative();
    long id = entry.getLong("id");

    HttpResponse<String> kill = ferry.admin("DELETE", "/connections/" + id);
    assertThat(kill.statusCode()).isEqualTo(202);
    assertThat(new JsonObject(kill.body()).getString("status")).isEqualTo("closing");
    client.awaitClosedByPeer();
    upstream.awaitClosedByPeer();
    ferry.assertClosedFor(client, CloseReason.ADMIN_KILL, Side.PROXY);
    ferry.assertReleasedCleanly();

    HttpResponse<String> again = ferry.admin("DELETE", "/connections/" + id);
    assertThat(again.statusCode()).isEqualTo(404);
    assertThat(new JsonObject(again.body()).getString("error")).contains(String.valueOf(id));
  }

  private static JsonObject findByClientPort(int port) throws Exception {
    JsonObject[] found = new JsonObject[1];
    Await.until("client port " + port + " listed", () -> {
      try {
        JsonArray list = new JsonObject(ferry.admin("GET", "/connections?limit=100").body()).getJsonArray("connections");
        for (int i = 0; i < list.size(); i++) {
          if (list.getJsonObject(i).getString("client").endsWith(":" + port)) {
            found[0] = list.getJsonObject(i);
            return true;
          }
        }
        return false;
      } catch (Exception e) {
        return false;
      }
    });
    return found[0];
  }

  @Test
  void boundsTheListingByLimit() throws Exception {
    int before = backend.accepted().size();
    Peer a = ferry.connect();
    Peer b = ferry.connect();
    a.write("a");
    b.write("b");
    Await.until("two connections open", () -> ferry.metrics().connectionsOpen() == 2);
    JsonObject page = new JsonObject(ferry.admin("GET", "/connections?limit=1").body());
    assertThat(page.getInteger("total")).isEqualTo(2);
    assertThat(page.getJsonArray("connections")).hasSize(1);
    a.close();
    b.close();
    // Each upstream sees its client's FIN and closes in turn: the connections end in order.
    for (int n = before + 1; n <= before + 2; n++) {
      Peer upstream = backend.awaitAccepted(n);
      upstream.awaitClosedByPeer();
      upstream.close();
    }
    ferry.assertReleasedCleanly();
  }

  @ParameterizedTest(name = "{0} {1} -> {2}")
  @CsvSource({
    "DELETE, /connections/abc, 400, connection id must be a positive integer",
    "DELETE, /connections/-5, 400, connection id must be a positive integer",
    "DELETE, /connections/99999999999999999999999, 400, connection id must be a positive integer",
    "DELETE, /connections/424242, 404, no open connection 424242",
    "GET, /connections?limit=0, 400, limit must be an integer between 1 and 10000",
    "GET, /connections?limit=99999999999, 400, limit must be an integer between 1 and 10000",
    "GET, /connections?limit=ten, 400, limit must be an integer between 1 and 10000",
    "POST, /connections, 405, method POST not allowed",
    "GET, /connections/1, 405, method GET not allowed",
    "DELETE, /metrics, 405, method DELETE not allowed",
    "GET, /nothing-here, 404, no such resource",
  })
  void answersBadAdminRequestsWithAJsonError(String method, String path, int status, String message) throws Exception {
    HttpResponse<String> res = ferry.admin(method, path);
    assertThat(res.statusCode()).isEqualTo(status);
    assertThat(res.headers().firstValue("Content-Type")).hasValue("application/json");
    assertThat(new JsonObject(res.body()).getString("error")).contains(message);
    assertThat(res.body()).doesNotContain("Exception").doesNotContain("\tat ");
  }
}
