package dev.ferry.proxy;

import dev.ferry.metrics.RouteMeters;
import dev.ferry.support.Await;
import dev.ferry.support.Backend;
import dev.ferry.support.Certificates;
import dev.ferry.support.Executables;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.support.TlsPeers;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Outcome;
import dev.ferry.vocabulary.Side;
import dev.ferry.vocabulary.TlsErrorCause;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * TLS terminated by a route (both providers), its certificate reloaded without touching open connections, a real
 * {@code openssl s_client} against it, and TLS from Ferry to its upstreams with their certificate verified.
 */
class TlsTerminationTest {

  private static final byte[] PING = "ping\n".getBytes(StandardCharsets.US_ASCII);

  @TempDir
  Path dir;

  private static Backend echo() throws Exception {
    return new Backend(Backend.closingAtEof(peer -> {
      for (int i = 0; i < 2; i++) {
        peer.write(peer.readExactly(PING.length));
      }
    }));
  }

  private FerryHarness ferry(Certificates cert, Backend backend, String provider) {
    return FerryHarness.start(FerryHarness.options(backend.address()).set("tls.mode", "terminate")
      .set("tls.certificate", cert.certificate().toString()).set("tls.key", cert.key().toString())
      .set("tls.provider", provider));
  }

  @ParameterizedTest(name = "provider {0}")
  @ValueSource(strings = {"openssl", "jdk"})
  void terminatesTlsAndRelaysThePlainBytes(String provider) throws Exception {
    Certificates cert = Certificates.selfSigned(dir, "ferry.test");
    try (Backend backend = echo(); FerryHarness ferry = ferry(cert, backend, provider)) {
      Peer client = TlsPeers.connect(ferry.port(), Certificates.trusting(cert), "ferry.test");
      for (int i = 0; i < 2; i++) {
        client.write(PING);
        assertThat(client.readExactly(PING.length)).isEqualTo(PING);
      }
      assertThat(TlsPeers.presented(client)).isEqualTo("ferry.test");
      client.finish();
      assertThat(client.readToEnd(Duration.ZERO).bytes()).as("the upstream's end, as close_notify").isZero();
      client.close();
      JsonObject line = ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
      assertThat(line.getString("tls")).startsWith("TLSv1.3 TLS_");
      assertThat(line.getString("server_name")).isEqualTo("ferry.test");
      assertThat(line.getLong("bytes_upstream")).isEqualTo(2L * PING.length);
      assertThat(backend.accepted()).hasSize(1);
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void reloadsAChangedCertificateForNewHandshakesAndKeepsOpenConnections() throws Exception {
    Certificates first = Certificates.selfSigned(dir, "ferry.test", "server");
    BigInteger firstSerial = first.x509().getSerialNumber();
    try (Backend backend = echo(); FerryHarness ferry = ferry(first, backend, "auto")) {
      Peer open = TlsPeers.connect(ferry.port(), Certificates.trusting(first), "ferry.test");
      open.write(PING);
      assertThat(open.readExactly(PING.length)).isEqualTo(PING);

      Certificates second = Certificates.selfSigned(dir, "ferry.test", "server");
      SSLContext trustSecond = Certificates.trusting(second);
      Await.until("a new handshake presents the new certificate", () -> {
        try (Peer probe = TlsPeers.connect(ferry.port(), trustSecond, "ferry.test")) {
          probe.reset();
          return true;
        } catch (Exception stillTheFirst) {
          return false;
        }
      });
      RouteMeters meters = ferry.ferry().routes().get(0).meters();
      assertThat(meters.certificateReloadsTotal(Outcome.SUCCESS)).isEqualTo(1);
      X509Certificate servedBefore = (X509Certificate) ((SSLSocket) open.socket()).getSession()
        .getPeerCertificates()[0];
      assertThat(servedBefore.getSerialNumber()).isEqualTo(firstSerial);

      open.write(PING);
      assertThat(open.readExactly(PING.length)).as("the open connection goes on with its session").isEqualTo(PING);
      open.finish();
      open.readToEnd(Duration.ZERO);
      open.close();
      ferry.assertClosedFor(open, CloseReason.PEER_CLOSED, Side.CLIENT);
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void refusesAKeyOfAnotherCertificateAndKeepsServingTheRunningOne() throws Exception {
    Certificates served = Certificates.selfSigned(dir, "ferry.test", "server");
    Certificates other = Certificates.selfSigned(dir, "other.test", "other");
    try (Backend backend = echo(); FerryHarness ferry = ferry(served, backend, "auto")) {
      Files.copy(other.key(), served.key(), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      RouteMeters meters = ferry.ferry().routes().get(0).meters();
      Await.until("the changed key is refused", () -> meters.certificateReloadsTotal(Outcome.FAILURE) == 1);
      Peer client = TlsPeers.connect(ferry.port(), Certificates.trusting(served), "ferry.test");
      client.write(PING);
      assertThat(client.readExactly(PING.length)).isEqualTo(PING);
      client.reset();
      ferry.assertReleasedCleanly();
    }
  }

  /** A real client: openssl s_client verifies Ferry's certificate against it and reads what the upstream sends. */
  @Test
  void opensslsClientVerifiesTheCertificateAndReadsTheUpstream() throws Exception {
    Path openssl = Executables.require("openssl", "openssl");
    Certificates cert = Certificates.selfSigned(dir, "ferry.test");
    byte[] greeting = "hello from the upstream\n".getBytes(StandardCharsets.US_ASCII);
    try (Backend backend = new Backend(Backend.closingAtEof(peer -> peer.write(greeting)));
         FerryHarness ferry = ferry(cert, backend, "auto")) {
      Process sClient = new ProcessBuilder(List.of(openssl.toString(), "s_client", "-connect",
        "127.0.0.1:" + ferry.port(), "-servername", "ferry.test", "-CAfile", cert.certificate().toString(),
        "-verify_return_error", "-quiet", "-no_ign_eof")).redirectErrorStream(true).start();
      try (BufferedReader out = new BufferedReader(new InputStreamReader(sClient.getInputStream(),
        StandardCharsets.US_ASCII))) {
        String line;
        String last = null;
        while ((line = out.readLine()) != null && !line.equals("hello from the upstream")) {
          last = line;
        }
        assertThat(line).as("s_client's output (last line before: %s)", last).isEqualTo("hello from the upstream");
        sClient.getOutputStream().close();
        assertThat(sClient.waitFor(15, TimeUnit.SECONDS)).isTrue();
      } finally {
        sClient.destroyForcibly();
      }
      Await.until("the connection ended", () -> ferry.access().lines().size() == 1);
      assertThat(ferry.access().lines().get(0).getString("tls")).startsWith("TLSv1.3");
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void speaksTlsToTheUpstreamAndVerifiesItsCertificateAndName() throws Exception {
    Certificates upstreamCert = Certificates.selfSigned(dir, "backend.test");
    try (Backend backend = Backend.tls(upstreamCert, Backend.closingAtEof(peer -> peer.write(peer.readExactly(5))));
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address())
           .set("upstream-tls.enabled", true).set("upstream-tls.ca", upstreamCert.certificate().toString())
           .set("upstream-tls.server-name", "backend.test"))) {
      Peer client = ferry.connect();
      client.write("hello");
      assertThat(client.readExactlyText(5)).isEqualTo("hello");
      client.close();
      ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void anUpstreamWhoseCertificateIsForAnotherNameEndsTheConnectionWithATlsError() throws Exception {
    Certificates upstreamCert = Certificates.selfSigned(dir, "backend.test");
    try (Backend backend = Backend.tls(upstreamCert, Backend.HOLD);
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address())
           .set("connect.attempts", 1)
           .set("upstream-tls.enabled", true).set("upstream-tls.ca", upstreamCert.certificate().toString())
           .set("upstream-tls.server-name", "elsewhere.test"))) {
      Peer client = ferry.connect();
      client.write("hello");
      client.awaitClosedByPeer();
      JsonObject line = ferry.assertClosedFor(client, CloseReason.TLS_ERROR, Side.UPSTREAM);
      assertThat(line.getString("detail")).startsWith("certificate: ");
      assertThat(ferry.ferry().routes().get(0).meters().tlsErrorsTotal(Side.UPSTREAM, TlsErrorCause.CERTIFICATE))
        .isEqualTo(1);
      ferry.assertReleasedCleanly();
    }
  }
}
