package dev.ferry.config;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The server names of a passthrough route ({@code sni}): DNS names, wildcards {@code *.example.com} (exactly one more
 * label, as a certificate's wildcard: the backend's certificate can only cover that much), or {@code *} alone, the
 * default of the route's address. Compared in lower case, without a trailing dot. An empty list is the default too.
 */
public final class ServerNames {

  /** The name of the default route of an address. */
  public static final String ANY = "*";
  private static final Pattern LABEL = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

  private ServerNames() {
  }

  /** True for a DNS name of 1 to 253 characters whose labels are letters, digits and inner '-'. */
  static boolean isHostName(String name) {
    String n = name.toLowerCase(Locale.ROOT);
    if (n.isEmpty() || n.length() > 253) {
      return false;
    }
    for (String label : n.split("\\.", -1)) {
      if (!LABEL.matcher(label).matches()) {
        return false;
      }
    }
    return true;
  }

  /** The names normalized (lower case, no trailing dot), each checked; the key of an entry is {@code sni[i]}. */
  static List<String> normalize(List<String> names) {
    List<String> result = new ArrayList<>(names.size());
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < names.size(); i++) {
      String raw = ConfigPaths.checkNotNull("sni[" + i + "]", names.get(i));
      String n = raw.toLowerCase(Locale.ROOT);
      if (n.endsWith(".") && n.length() > 1) {
        n = n.substring(0, n.length() - 1);
      }
      boolean ok = n.equals(ANY) || isHostName(n) || (n.startsWith("*.") && isHostName(n.substring(2)));
      if (!ok) {
        throw new ConfigException("sni[" + i + "]", "must be a DNS name, a wildcard like \"*.example.com\" or \"*\","
            + " got " + Values.quote(raw));
      }
      if (!seen.add(n)) {
        throw new ConfigException("sni[" + i + "]", "listed twice, got " + Values.quote(raw));
      }
      result.add(n);
    }
    return List.copyOf(result);
  }

  /** True when {@code names} make a route the default of its address (empty, or {@code *} among them). */
  public static boolean isDefault(List<String> names) {
    return names.isEmpty() || names.contains(ANY);
  }
}
