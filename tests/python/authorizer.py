"""A custom authorizer's function for tether serve's authorizer-functions, standing in for the
Lambda function AWS IoT would call. Reads AWS's event on stdin and answers on stdout:

- token `allow-NAME` (or MQTT password `allow-NAME` when no token is sent): authenticated as
  principal NAME, with a policy that lets it connect and use topics under `custom/` only;
- anything else: `isAuthenticated: false`.

With TETHER_AUTHORIZER_EVENTS set, each event is appended to that file as one JSON line, so the
test can check what the function was given.
"""

import base64
import json
import os
import sys

event = json.load(sys.stdin)
log = os.environ.get("TETHER_AUTHORIZER_EVENTS")
if log:
    with open(log, "a", encoding="utf-8") as f:
        f.write(json.dumps(event) + "\n")

token = event.get("token")
if token is None:
    password = event.get("protocolData", {}).get("mqtt", {}).get("password")
    token = base64.b64decode(password).decode() if password else ""

ARN = "arn:aws:iot:us-east-1:123456789012"
if token.startswith("allow-"):
    answer = {
        "isAuthenticated": True,
        "principalId": token[len("allow-") :],
        "disconnectAfterInSeconds": 3600,
        "refreshAfterInSeconds": 300,
        "policyDocuments": [
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{ARN}:client/*"},
                    {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": f"{ARN}:topic/custom/*"},
                    {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": f"{ARN}:topicfilter/custom/*"},
                ],
            }
        ],
    }
else:
    answer = {"isAuthenticated": False}
print(json.dumps(answer))
