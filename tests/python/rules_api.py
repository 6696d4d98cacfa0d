"""The topic rule control plane with boto3, unchanged: CreateTopicRule, GetTopicRule,
ListTopicRules (paging, the topic and ruleDisabled filters), ReplaceTopicRule,
Enable/DisableTopicRule, DeleteTopicRule and the topic rule destination operations, with the
errors AWS answers (SqlParseException with the position of the fault, ResourceAlreadyExists,
UnauthorizedException for a rule that does not exist, InvalidRequestException for bad names,
payloads and destination changes). Actions tether does not execute are accepted.

Driven by crates/cli/tests/e2e/rules.rs, which starts `tether serve` and runs:

    python rules_api.py API_URL

Exits non-zero on the first failed check; prints one line per check.
"""

import sys

import boto3
import botocore.exceptions

checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1
    print(f"ok: {what}", flush=True)


def error(call, **kwargs):
    try:
        call(**kwargs)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]
    raise AssertionError(f"{call.__name__} succeeded, but an error was expected")


def payload(sql, topic="out/${topic(2)}"):
    return {"sql": sql, "actions": [{"republish": {"topic": topic, "roleArn": "arn:aws:iam::123456789012:role/r"}}]}


def main():
    iot = boto3.client("iot", endpoint_url=sys.argv[1], region_name="us-east-1")

    iot.create_topic_rule(ruleName="a_rule", topicRulePayload=payload("SELECT * FROM 'a/+'"))
    iot.create_topic_rule(ruleName="b_rule", topicRulePayload={**payload("SELECT * FROM 'b/#'"), "ruleDisabled": True})
    iot.create_topic_rule(ruleName="c_rule", topicRulePayload={
        "sql": "SELECT * FROM 'c'", "awsIotSqlVersion": "2016-03-23",
        "actions": [
            {"sqs": {"queueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "roleArn": "arn:aws:iam::123456789012:role/r"}},
            {"kinesis": {"streamName": "s", "roleArn": "arn:aws:iam::123456789012:role/r"}},
        ],
        "errorAction": {"republish": {"topic": "errors", "roleArn": "arn:aws:iam::123456789012:role/r"}},
    })
    check(True, "rules with republish, sqs and kinesis actions are created")

    got = iot.get_topic_rule(ruleName="a_rule")
    check(got["ruleArn"] == "arn:aws:iot:us-east-1:123456789012:rule/a_rule", "GetTopicRule answers the rule's ARN")
    rule = got["rule"]
    check(rule["ruleName"] == "a_rule" and rule["sql"] == "SELECT * FROM 'a/+'", "GetTopicRule answers name and SQL")
    check(rule["awsIotSqlVersion"] == "2015-10-08", "an omitted awsIotSqlVersion is AWS's default 2015-10-08")
    check(rule["ruleDisabled"] is False and "createdAt" in rule, "GetTopicRule answers ruleDisabled and createdAt")
    check(rule["actions"][0]["republish"]["topic"] == "out/${topic(2)}", "the actions come back as given")
    c = iot.get_topic_rule(ruleName="c_rule")["rule"]
    check(c["actions"][0]["sqs"]["queueUrl"].endswith("/q") and "republish" in c["errorAction"], "sqs actions and errorAction are kept")

    first = iot.list_topic_rules(maxResults=2)
    check([r["ruleName"] for r in first["rules"]] == ["a_rule", "b_rule"] and "nextToken" in first, "ListTopicRules pages by name")
    rest = iot.list_topic_rules(maxResults=2, nextToken=first["nextToken"])
    check([r["ruleName"] for r in rest["rules"]] == ["c_rule"] and "nextToken" not in rest, "the last page has no nextToken")
    check(first["rules"][0]["topicPattern"] == "a/+", "ListTopicRules answers topicPattern")
    by_topic = iot.list_topic_rules(topic="b/#")["rules"]
    check([r["ruleName"] for r in by_topic] == ["b_rule"], "ListTopicRules --topic keeps the rules with that FROM filter")
    disabled = iot.list_topic_rules(ruleDisabled=True)["rules"]
    check([r["ruleName"] for r in disabled] == ["b_rule"], "ListTopicRules ruleDisabled=True keeps the disabled rules")
    paginated = [r["ruleName"] for page in iot.get_paginator("list_topic_rules").paginate(PaginationConfig={"PageSize": 1}) for r in page["rules"]]
    check(paginated == ["a_rule", "b_rule", "c_rule"], "boto3's paginator walks every page")

    iot.enable_topic_rule(ruleName="b_rule")
    check(iot.get_topic_rule(ruleName="b_rule")["rule"]["ruleDisabled"] is False, "EnableTopicRule enables")
    iot.disable_topic_rule(ruleName="a_rule")
    check(iot.get_topic_rule(ruleName="a_rule")["rule"]["ruleDisabled"] is True, "DisableTopicRule disables")

    created_at = iot.get_topic_rule(ruleName="a_rule")["rule"]["createdAt"]
    iot.replace_topic_rule(ruleName="a_rule", topicRulePayload=payload("SELECT x FROM 'a/new'"))
    replaced = iot.get_topic_rule(ruleName="a_rule")["rule"]
    check(replaced["sql"] == "SELECT x FROM 'a/new'" and replaced["createdAt"] == created_at, "ReplaceTopicRule changes the payload and keeps createdAt")

    code, message = error(iot.create_topic_rule, ruleName="bad_sql", topicRulePayload=payload("SELECT * FORM 'a'"))
    check(code == "SqlParseException" and "line 1, column" in message, f"bad SQL is SqlParseException with its position: {message}")
    code, message = error(iot.create_topic_rule, ruleName="bad_fn", topicRulePayload=payload("SELECT nosuchfunction(x) FROM 'a'"))
    check(code == "SqlParseException" and "nosuchfunction" in message, f"an unknown function is SqlParseException naming it: {message}")
    code, _ = error(iot.create_topic_rule, ruleName="a_rule", topicRulePayload=payload("SELECT * FROM 'a'"))
    check(code == "ResourceAlreadyExistsException", "a second rule of the same name is ResourceAlreadyExistsException")
    code, message = error(iot.get_topic_rule, ruleName="missing")
    check(code == "UnauthorizedException" and message == "Access to topic rule 'missing' was denied", "a missing rule is AWS's UnauthorizedException")
    code, _ = error(iot.replace_topic_rule, ruleName="missing", topicRulePayload=payload("SELECT * FROM 'a'"))
    check(code == "UnauthorizedException", "replacing a missing rule is UnauthorizedException")
    code, _ = error(iot.create_topic_rule, ruleName="bad_action", topicRulePayload={"sql": "SELECT * FROM 'a'", "actions": [{"republish": {"topic": "t", "roleArn": "r", "qos": 2}}]})
    check(code == "InvalidRequestException", "qos 2 in a republish action is InvalidRequestException")
    code, _ = error(iot.create_topic_rule, ruleName="bad_template", topicRulePayload=payload("SELECT * FROM 'a'", topic="x/${topic(}"))
    check(code == "SqlParseException", "a substitution template that does not parse is SqlParseException")

    iot.delete_topic_rule(ruleName="c_rule")
    code, _ = error(iot.get_topic_rule, ruleName="c_rule")
    check(code == "UnauthorizedException", "DeleteTopicRule deletes")

    destination = iot.create_topic_rule_destination(destinationConfiguration={"httpUrlConfiguration": {"confirmationUrl": "https://example.invalid/hook"}})["topicRuleDestination"]
    arn = destination["arn"]
    check(":ruledestination/http/" in arn and destination["status"] == "IN_PROGRESS", "CreateTopicRuleDestination answers an IN_PROGRESS destination")
    check(destination["httpUrlProperties"]["confirmationUrl"] == "https://example.invalid/hook", "the destination keeps its confirmation URL")
    code, _ = error(iot.create_topic_rule_destination, destinationConfiguration={"httpUrlConfiguration": {"confirmationUrl": "https://example.invalid/hook"}})
    check(code == "ResourceAlreadyExistsException", "a second destination for the same URL is ResourceAlreadyExistsException")
    check(iot.get_topic_rule_destination(arn=arn)["topicRuleDestination"]["arn"] == arn, "GetTopicRuleDestination finds it by ARN")
    summaries = iot.list_topic_rule_destinations()["destinationSummaries"]
    check([s["arn"] for s in summaries] == [arn] and summaries[0]["httpUrlSummary"]["confirmationUrl"].endswith("/hook"), "ListTopicRuleDestinations lists it")
    code, message = error(iot.update_topic_rule_destination, arn=arn, status="ENABLED")
    check(code == "InvalidRequestException" and "confirmed first" in message, "an unconfirmed destination cannot be enabled")
    code, _ = error(iot.confirm_topic_rule_destination, confirmationToken="not-the-token")
    check(code == "InvalidRequestException", "a wrong confirmation token is InvalidRequestException")
    iot.update_topic_rule_destination(arn=arn, status="IN_PROGRESS")
    check(True, "IN_PROGRESS sends a new confirmation request")
    iot.delete_topic_rule_destination(arn=arn)
    code, _ = error(iot.get_topic_rule_destination, arn=arn)
    check(code == "InvalidRequestException", "DeleteTopicRuleDestination deletes")
    print(f"{checks} checks passed")


if __name__ == "__main__":
    main()
