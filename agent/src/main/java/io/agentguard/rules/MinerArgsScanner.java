package io.agentguard.rules;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Set;

/**
 * Miner command lines by what they say, wherever in argv they say it: the part of a long
 * argv the exec record did not carry (exec.max_args_bytes) is read from /proc/PID/cmdline by
 * the daemon ({@code enforce.MinerArgsChecker}) and scanned here. One linear pass over the
 * NUL-separated arguments; each argument is looked at with the one before it, so the cost is
 * bounded by the bytes read (at most {@link #MAX_BYTES}).
 *
 * <p>Signals, each enough alone (an honest program has no reason for any of them):
 * <ul>
 *   <li>a pool URL scheme anywhere: {@code stratum+tcp://}, {@code stratum+ssl://},
 *       {@code stratum+tls://}, {@code stratum2+tcp://} (XMRig, lolMiner, T-Rex, ...);</li>
 *   <li>XMRig's {@code --donate-level}, and {@code --coin} with a value;</li>
 *   <li>{@code -a}/{@code --algo}/{@code --algorithm} naming a proof-of-work algorithm
 *       (rx/0, randomx, kawpow, ethash, autolykos2, cryptonight, cn/r, ghostrider, ...);</li>
 *   <li>{@code -u}/{@code --user}/{@code --wallet} with a wallet-shaped value (Monero's 95
 *       base58 characters from 4 or 8, an Ethereum 0x address, a bech32 bc1 address), a
 *       worker suffix (".rig1") allowed;</li>
 *   <li>{@code -o}/{@code --url}/{@code --pool} whose value is host:port on a well-known pool
 *       port.</li>
 * </ul>
 */
public final class MinerArgsScanner {
    /**
     * The most of a command line the daemon reads and scans: all of it. The kernel caps argv and
     * environment together at a quarter of the stack limit and never above 6 MiB (fs/exec.c:
     * _STK_LIM / 4 * 3), so nothing can be placed beyond this (a 64 KiB bound was passed by a
     * red-team miner with 70 KiB of filler). One buffer, allocated once; the scan is linear.
     */
    public static final int MAX_BYTES = 6 * 1024 * 1024;

    private static final String[] SCHEMES = {"stratum+tcp://", "stratum+ssl://", "stratum+tls://", "stratum2+tcp://",
        "stratum1+tcp://"};
    private static final Set<String> ALGORITHMS = Set.of("rx/0", "rx/wow", "rx/arq", "rx/graft", "rx/sfx", "rx/keva",
            "randomx", "randomxmonero", "kawpow", "ethash", "etchash", "autolykos", "autolykos2", "cryptonight",
            "cn/0", "cn/1", "cn/2", "cn/r", "cn/half", "cn/fast", "cn/rwz", "cn/zls", "cn/double", "cn-heavy/0",
            "cn-lite/1", "cn-pico", "cn/upx2", "argon2/chukwa", "argon2/chukwav2", "argon2/ninja", "ghostrider",
            "kheavyhash", "equihash", "octopus", "progpow", "firopow", "x16r", "x16rv2", "x25x", "blake3", "karlsenhash",
            "astrobwt", "verushash");
    private static final Set<Integer> POOL_PORTS = Set.of(3333, 3334, 3357, 4444, 5555, 5556, 6666, 7777, 8888, 9999,
            10128, 10300, 14433, 14444, 17777, 20535, 45560, 45700);

    private MinerArgsScanner() {
    }

    /** What gave a command line away, or null: nothing did. args: NUL-separated, length bytes used. */
    public static String scan(byte[] args, int length) {
        int n = Math.min(length, Math.min(args.length, MAX_BYTES));
        String previous = "";
        int start = 0;
        for (int i = 0; i <= n; i++) {
            if (i < n && args[i] != 0) {
                continue;
            }
            if (i > start) {
                String arg = new String(args, start, i - start, StandardCharsets.UTF_8);
                String why = judge(previous, arg);
                if (why != null) {
                    return why;
                }
                previous = arg;
            }
            start = i + 1;
        }
        return null;
    }

    /** One argument, with the one before it (the option whose value it may be). */
    static String judge(String previous, String arg) {
        String lower = arg.toLowerCase(Locale.ROOT);
        for (String scheme : SCHEMES) {
            if (lower.contains(scheme)) {
                return "pool URL " + scheme;
            }
        }
        String option = previous;
        String value = arg;
        int eq = arg.indexOf('=');
        if (arg.startsWith("--") && eq > 2) {   // --algo=rx/0
            option = arg.substring(0, eq);
            value = arg.substring(eq + 1);
        } else if (arg.startsWith("-a") && arg.length() > 2 && !arg.startsWith("--")) {   // -arx/0
            option = "-a";
            value = arg.substring(2);
        }
        if (arg.equals("--donate-level") || arg.startsWith("--donate-level=") || arg.startsWith("--donate-over-proxy")) {
            return "option " + (eq > 0 ? arg.substring(0, eq) : arg);
        }
        switch (option) {
            case "--coin" -> {
                return value.isEmpty() || value.startsWith("-") ? null : "option --coin " + value;
            }
            case "-a", "--algo", "--algorithm" -> {
                return ALGORITHMS.contains(value.toLowerCase(Locale.ROOT)) ? "algorithm " + value : null;
            }
            case "-u", "--user", "--wallet", "--user-name", "-w" -> {
                return walletShaped(value) ? "wallet " + abbreviate(value) : null;
            }
            case "-o", "--url", "--pool", "--server" -> {
                int port = poolPort(value);
                return port > 0 ? "pool " + value + " (port " + port + ")" : null;
            }
            default -> {
                return null;
            }
        }
    }

    /** Monero (95 base58 from 4 or 8), Ethereum (0x + 40 hex), bech32 bc1; an optional ".worker" or "+diff" tail. */
    static boolean walletShaped(String value) {
        String v = value;
        int cut = indexOfAny(v, ".+/:");
        if (cut > 0) {
            v = v.substring(0, cut);
        }
        if (v.length() == 95 && (v.charAt(0) == '4' || v.charAt(0) == '8') && allIn(v, BASE58)) {
            return true;
        }
        if (v.length() == 42 && v.startsWith("0x") && allIn(v.substring(2), "0123456789abcdefABCDEF")) {
            return true;
        }
        return v.length() >= 42 && v.length() <= 62 && v.startsWith("bc1") && allIn(v.substring(3), BECH32);
    }

    private static final String BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    private static final String BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

    /** host:port (or scheme://host:port/...) on a pool port, else 0. Paths and files have no such port. */
    static int poolPort(String value) {
        String v = value;
        int scheme = v.indexOf("://");
        if (scheme >= 0) {
            v = v.substring(scheme + 3);
        }
        int slash = v.indexOf('/');
        if (slash >= 0) {
            v = v.substring(0, slash);
        }
        int colon = v.lastIndexOf(':');
        if (colon <= 0 || colon == v.length() - 1 || v.length() - colon > 6) {
            return 0;
        }
        int port = 0;
        for (int i = colon + 1; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c < '0' || c > '9') {
                return 0;
            }
            port = port * 10 + (c - '0');
        }
        return POOL_PORTS.contains(port) ? port : 0;
    }

    private static boolean allIn(String s, String alphabet) {
        for (int i = 0; i < s.length(); i++) {
            if (alphabet.indexOf(s.charAt(i)) < 0) {
                return false;
            }
        }
        return true;
    }

    private static int indexOfAny(String s, String chars) {
        for (int i = 0; i < s.length(); i++) {
            if (chars.indexOf(s.charAt(i)) >= 0) {
                return i;
            }
        }
        return -1;
    }

    private static String abbreviate(String s) {
        return s.length() <= 16 ? s : s.substring(0, 8) + "..." + s.substring(s.length() - 6);
    }
}
