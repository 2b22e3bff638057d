package enroll

// MQTTKept is mqttKept, for the external tests.
var MQTTKept = mqttKept
