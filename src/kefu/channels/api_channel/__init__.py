"""Generic API channel (inbox kind "api"): any system posts messages with the inbox secret and gets replies
by signed callback. The folder is not named `api` because `kefu.channels.api` is the channel router."""
