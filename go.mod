module github.com/sesame-idp/sesame

go 1.26.8
