"""Every ruleset the project ships or tests with validates against the JSON
Schema and passes `verdictctl check`; broken rulesets are refused with the
exact FILE:LINE:COL: POINTER: message and exit status 1. No namespaces."""

import glob
import json
import os
import unittest

import jsonschema

from lab import TOP, run, verdictctl_binary

SCHEMA = os.path.join(TOP, "rules", "ruleset.schema.json")
BAD = os.path.join(TOP, "tests", "rulesets", "bad")

GOOD_RULESETS = sorted(
    glob.glob(os.path.join(TOP, "rules", "**", "*.json"), recursive=True)
    + glob.glob(os.path.join(TOP, "tests", "rulesets", "*.json"))
    + glob.glob(os.path.join(TOP, "bench", "rulesets", "*.json")))
GOOD_RULESETS.remove(SCHEMA)

# File in tests/rulesets/bad -> what `verdictctl check` prints after "FILE:".
BAD_RULESETS = {
    "bad_ctstate.json": '5:31: /tables/filter/INPUT/rules/0/match/ctstate: expected a list or '
                        'comma-separated string of INVALID, NEW, RELATED, ESTABLISHED, UNTRACKED, '
                        'SNAT, DNAT, at least one, got "ESTABLISHED,REPLIED"',
    "connlimit_without_limit.json": '5:65: /tables/filter/FORWARD/rules/0/match/connlimit: '
                                    'connlimit needs one of "above" or "upto"',
    "connmark_two_operations.json": '5:33: /tables/mangle/PREROUTING/rules/0/target/CONNMARK: '
                                    'CONNMARK takes at most one of "set_mark", "set_xmark", '
                                    '"and_mark", "or_mark", "xor_mark", "save_mark" or '
                                    '"restore_mark"',
    "number_out_of_range.json": "5:28: expected a number within the range of a double, got 1e999",
    "notrack_in_filter.json": "5:63: /tables/filter/INPUT/rules/0/target: the filter table does "
                              "not allow NOTRACK",
    "bad_address.json": '5:30: /tables/filter/INPUT/rules/0/match/source: expected an IPv4 or '
                        'IPv6 address or prefix (address/length), got "10.0.0.300/24"',
    "bad_mark.json": '5:42: /tables/mangle/PREROUTING/rules/0/target/MARK/set_mark: expected a '
                     'mark "value" or "value/mask" of 32 bits, got "0x1/0xfffffffff"',
    "drop_in_nat.json": "5:63: /tables/nat/PREROUTING/rules/0/target: the nat table does not "
                        "allow DROP",
    "icmp_type_without_icmp.json": '5:52: /tables/filter/INPUT/rules/0/match/icmp_type: '
                                   'icmp_type needs "protocol": "icmp" in the same rule',
    "in_interface_in_output.json": '7:36: /tables/filter/shared/rules/0/match/in_interface: '
                                   'in_interface cannot be used in OUTPUT (chain "shared" is '
                                   'reached from OUTPUT in table filter)',
    "loop.json": "6:32: /tables/filter/b/rules/0/goto: this makes a loop: INPUT -> a -> b -> a",
    "missing_chain.json": '5:48: /tables/filter/FORWARD/rules/0/jump: no chain named '
                          '"tcp_rules" in table filter',
    "mixed_families.json": "5:60: /tables/filter/FORWARD/rules/0/match/destination: this rule "
                           "already applies to IPv4 only; a rule cannot mix IPv4 and IPv6",
    "negated_interface_in_prerouting.json": "5:38: /tables/mangle/PREROUTING/rules/0/match/"
                                            "!out_interface: !out_interface cannot be used in "
                                            "PREROUTING",
    "policy_for_uncovered_family.json": '5:52: /tables/filter/INPUT/policy/ipv6: table filter '
                                        'covers only ipv4',
    "policy_on_user_chain.json": '5:26: /tables/filter/mine/policy: only built-in chains have a '
                                 'policy; "mine" is a user chain',
    "port_out_of_range.json": '6:48: /tables/filter/INPUT/rules/1/match/dport: expected a port '
                              '0-65535 or "lo:hi", got 70000',
    "port_without_protocol.json": '5:29: /tables/filter/INPUT/rules/0/match/dport: dport needs '
                                  '"protocol": "tcp", "udp", "udplite" or "sctp" in the same rule',
    "syntax_error.json": "6:7: expected valid JSON: syntax error while parsing value - "
                         "unexpected ']'; expected '[', '{', or a literal",
    "target_and_jump.json": '5:9: /tables/filter/INPUT/rules/0: a rule takes at most one of '
                            '"target", "jump" and "goto"',
    "too_many_ports.json": '5:48: /tables/filter/INPUT/rules/0/match/dport: expected at most 15 '
                           'ports, a range counting as two, got '
                           '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,"20:30"]',
    "unknown_match_key.json": "5:59: /tables/filter/FORWARD/rules/0/match/destination_port: "
                              'unknown match "destination_port"',
    "unknown_table.json": '3:16: /tables/filters: unknown table "filters"; expected filter, nat, '
                          "mangle, raw or security",
    "wrong_type.json": '4:44: /tables/filter/INPUT/rules: expected an array of rules, got '
                       '{"match":{"protocol":"tcp"}}',
}


class RulesetFilesTest(unittest.TestCase):

    def test_every_ruleset_matches_the_schema(self):
        with open(SCHEMA) as f:
            schema = json.load(f)
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(schema)
        self.assertGreater(len(GOOD_RULESETS), 10)
        for path in GOOD_RULESETS:
            with self.subTest(path=os.path.relpath(path, TOP)), open(path) as f:
                errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                          for e in validator.iter_errors(json.load(f))]
                self.assertEqual(errors, [])

    def test_every_ruleset_passes_verdictctl_check(self):
        for path in GOOD_RULESETS:
            with self.subTest(path=os.path.relpath(path, TOP)):
                result = run([verdictctl_binary(), "check", path], check=False)
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertEqual(result.stderr, "")

    def test_bad_rulesets_are_refused_with_their_position(self):
        self.assertEqual(sorted(BAD_RULESETS),
                         sorted(os.path.basename(p) for p in glob.glob(os.path.join(BAD, "*.json"))))
        for name, message in BAD_RULESETS.items():
            with self.subTest(ruleset=name):
                path = os.path.join(BAD, name)
                result = run([verdictctl_binary(), "check", path], check=False)
                self.assertEqual(result.returncode, 1)
                self.assertEqual(result.stderr, f"{path}:{message}\n")

    def test_check_reports_every_bad_file_of_several(self):
        good = os.path.join(TOP, "rules", "default.json")
        bad = [os.path.join(BAD, n) for n in ("loop.json", "wrong_type.json")]
        result = run([verdictctl_binary(), "check", good, *bad], check=False)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr.splitlines(),
                         [f"{p}:{BAD_RULESETS[os.path.basename(p)]}" for p in bad])


if __name__ == "__main__":
    unittest.main()
