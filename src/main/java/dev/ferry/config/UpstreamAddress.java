package dev.ferry.config;

/**
 * An upstream TCP endpoint. IPv6 hosts are stored without brackets.
 *
 * @param host host name, IPv4 address or IPv6 address (no brackets), never empty
 * @param port 1..65535
 */
public record UpstreamAddress(String host, int port) {

  public UpstreamAddress {
    if (host == null || host.isEmpty()) {
      throw new IllegalArgumentException("host must not be empty");
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port must be between 1 and 65535, got " + port);
    }
  }

  /**
   * Parses {@code host:port}, {@code 1.2.3.4:port} or {@code [::1]:port}.
   *
   * @throws IllegalArgumentException with the reason, which quotes the input
   */
  public static UpstreamAddress parse(String text) {
    if (text == null) {
      throw new IllegalArgumentException("must be \"host:port\", got null");
    }
    String got = ", got " + Values.quote(text);
    String host;
    String portText;
    if (text.startsWith("[")) {
      int close = text.indexOf(']');
      if (close < 0) {
        throw new IllegalArgumentException("missing \"]\" after IPv6 address" + got);
      }
      host = text.substring(1, close);
      String rest = text.substring(close + 1);
      if (rest.isEmpty()) {
        throw new IllegalArgumentException("missing port, expected \"host:port\"" + got);
      }
      if (rest.charAt(0) != ':') {
        throw new IllegalArgumentException("expected \":\" after \"]\"" + got);
      }
      portText = rest.substring(1);
      if (host.isEmpty()) {
        throw new IllegalArgumentException("missing host, expected \"host:port\"" + got);
      }
      if (!isIpv6Literal(host)) {
        throw new IllegalArgumentException("invalid IPv6 address" + got);
      }
    } else {
      int colon = text.lastIndexOf(':');
      if (colon < 0) {
        throw new IllegalArgumentException("missing port, expected \"host:port\"" + got);
      }
      host = text.substring(0, colon);
      portText = text.substring(colon + 1);
      if (host.indexOf(':') >= 0) {
        throw new IllegalArgumentException("IPv6 address must be in brackets, e.g. \"[::1]:7000\"" + got);
      }
      if (host.isEmpty()) {
        throw new IllegalArgumentException("missing host, expected \"host:port\"" + got);
      }
      if (!isHostName(host)) {
        throw new IllegalArgumentException("invalid host" + got);
      }
    }
    if (portText.isEmpty()) {
      throw new IllegalArgumentException("missing port, expected \"host:port\"" + got);
    }
    for (int i = 0; i < portText.length(); i++) {
      char c = portText.charAt(i);
      if (c < '0' || c > '9') {
        throw new IllegalArgumentException("port must be an integer" + got);
      }
    }
    int port = portText.length() > 5 ? Integer.MAX_VALUE : Integer.parseInt(portText);
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException("port must be between 1 and 65535" + got);
    }
    return new UpstreamAddress(host, port);
  }

  /** {@code host:port}, with an IPv6 host in brackets: {@code [::1]:7000}. */
  @Override
  public String toString() {
    return host.indexOf(':') >= 0 ? "[" + host + "]:" + port : host + ":" + port;
  }

  private static boolean isHostName(String host) {
    for (int i = 0; i < host.length(); i++) {
      char c = host.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '.' || c == '-' || c == '_';
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  private static boolean isIpv6Literal(String host) {
    int percent = host.indexOf('%');
    String address = percent < 0 ? host : host.substring(0, percent);
    if (address.indexOf(':') < 0) {
      return false;
    }
    for (int i = 0; i < address.length(); i++) {
      char c = address.charAt(i);
      boolean ok = Character.digit(c, 16) >= 0 || c == ':' || c == '.';
      if (!ok) {
        return false;
      }
    }
    if (percent >= 0) {
      String zone = host.substring(percent + 1);
      return !zone.isEmpty() && isHostName(zone);
    }
    return true;
  }
}
