package dev.ferry.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class UpstreamAddressTest {

  @Test
  void parsesHostNameIpv4AndBracketedIpv6() {
    assertThat(UpstreamAddress.parse("backend.svc:8080")).isEqualTo(new UpstreamAddress("backend.svc", 8080));
    assertThat(UpstreamAddress.parse("1.2.3.4:1")).isEqualTo(new UpstreamAddress("1.2.3.4", 1));
    assertThat(UpstreamAddress.parse("[::1]:65535")).isEqualTo(new UpstreamAddress("::1", 65535));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "backend.svc:8080",
      "1.2.3.4:1",
      "[::1]:65535",
      "[fe80::1%eth0]:80"})
  void toStringGivesBackTheParsedForm(String text) {
    assertThat(UpstreamAddress.parse(text).toString()).isEqualTo(text);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
      "localhost      | missing port, expected \"host:port\", got \"localhost\"",
      "localhost:     | missing port, expected \"host:port\", got \"localhost:\"",
      ":80            | missing host, expected \"host:port\", got \":80\"",
      "a:0            | port must be between 1 and 65535, got \"a:0\"",
      "a:65536        | port must be between 1 and 65535, got \"a:65536\"",
      "a:99999999999  | port must be between 1 and 65535, got \"a:99999999999\"",
      "a:-1           | port must be an integer, got \"a:-1\"",
      "a:http         | port must be an integer, got \"a:http\"",
      "::1:80         | IPv6 address must be in brackets, e.g. \"[::1]:7000\", got \"::1:80\"",
      "[::1:80        | missing \"]\" after IPv6 address, got \"[::1:80\"",
      "[::1]          | missing port, expected \"host:port\", got \"[::1]\"",
      "[]:80          | missing host, expected \"host:port\", got \"[]:80\"",
      "[::1]x80       | expected \":\" after \"]\", got \"[::1]x80\"",
      "[host]:80      | invalid IPv6 address, got \"[host]:80\"",
      "'a b:80'       | invalid host, got \"a b:80\""})
  void rejectsMalformedAddressesWithReason(String text, String reason) {
    assertThatThrownBy(() -> UpstreamAddress.parse(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(reason);
  }

  @Test
  void constructorRejectsEmptyHostAndPortOutOfRange() {
    assertThatThrownBy(() -> new UpstreamAddress("", 80)).hasMessage("host must not be empty");
    assertThatThrownBy(() -> new UpstreamAddress("a", 0)).hasMessage("port must be between 1 and 65535, got 0");
  }
}
